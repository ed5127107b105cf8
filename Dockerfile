# The dispatch service as one image: `dispatch serve` by default; the same image runs
# `dispatch db upgrade` (once per deployment), `dispatch plan`, and the Dask scheduler and
# workers that solve zone groups (compose.yaml starts each from it).
#
#     docker build -t fieldroute .
#
# The install is the tested one: pinned by constraints.txt (docs/operations.md). No build
# tools are needed: every dependency ships a wheel for linux x86_64 and aarch64.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# pg_dump and pg_restore for `dispatch db backup` / `restore` (bookworm's 15, as the db image)
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY api ./api
COPY dispatch ./dispatch
COPY routing ./routing
COPY fixtures ./fixtures
COPY scripts ./scripts
# osm: .osm.pbf road extracts for the "osm" travel provider
RUN pip install -c constraints.txt '.[osm]' && rm -rf /src

# A user of its own; the installation's data (its generated token signing secret, SQLite
# file when no DATABASE_URL is given, road-matrix cache) live in one volume.
RUN useradd --system --uid 10001 --home-dir /var/lib/fieldroute --create-home fieldroute
USER fieldroute
WORKDIR /var/lib/fieldroute
ENV FIELDROUTE_DATA_DIR=/var/lib/fieldroute \
    FIELDROUTE_ENVIRONMENT=production \
    FIELDROUTE_LOG_FORMAT=json
VOLUME ["/var/lib/fieldroute"]

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]
CMD ["dispatch", "serve", "--host", "0.0.0.0", "--port", "8000"]

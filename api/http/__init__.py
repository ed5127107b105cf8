"""HTTP: the FastAPI app, its routers (one per resource), request and response schemas, the
error shape, authentication, request context and the pages with their static assets.
Routers call services (`api.services`) and the background runners, never each other."""

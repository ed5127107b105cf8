"""Application services: what the routers and workers ask of the domain and the store (plan
and job rows, the running day's state, publication, notices, users, the demo seed). They
know the database session but not HTTP."""

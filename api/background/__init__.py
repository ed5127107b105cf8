"""Background work: the one job runner for plans and simulations, its worker processes and
the polling loop, and the outbox senders (webhooks, customer notices)."""

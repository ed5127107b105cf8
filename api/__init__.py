"""The service: HTTP (`api.http`), application services (`api.services`), background work
(`api.background`) and storage (`api.storage`), in that order of floors; `api.settings`
configures them all. See docs/architecture.md."""

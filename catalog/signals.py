"""Signals of the catalog app.

`service_state_changed(check, up, message, at)` is sent after commit when a service's health check goes from up to
down or back. Notifications listen to it (connect a receiver in your app's `AppConfig.ready`) to tell the service's
owners and the Keepers; until then the Keepers page lists the transitions.
"""

from django.dispatch import Signal

service_state_changed = Signal()

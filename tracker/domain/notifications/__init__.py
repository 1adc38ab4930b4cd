"""Notifications: who is told of an alert, by which channel, and the outbox that delivers it.

``open_alert`` records one fan-out row with the alert (same transaction); the deliverer
(:mod:`.deliverer`) works out the recipients (:mod:`.recipients`), writes the bell's
notifications and one outbox row per channel (:mod:`.fanout`), and sends them by e-mail
(:mod:`.email`) and signed webhooks (:mod:`.webhooks`) with retries (:mod:`.outbox`).
"""

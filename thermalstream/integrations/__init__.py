"""Integrations with other systems, all fed from the event bus through ``payloads`` (one JSON shape per
event type): MQTT and Home Assistant (``mqtt``, ``broker``, ``ha``, ``commands``) and webhooks."""

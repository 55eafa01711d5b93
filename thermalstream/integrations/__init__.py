"""Integrations with other systems: the payloads they share (``payloads``) and MQTT / Home Assistant (``mqtt``)."""

"""The ThermalStream Panel app: views over the core, plus Tornado handlers on the same server."""

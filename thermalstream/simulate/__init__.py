"""Serve simulated cameras on loopback (MJPEG over HTTP, H.264 over RTSP)."""

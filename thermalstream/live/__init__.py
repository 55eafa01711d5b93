"""Live view: encode each frame once and fan the JPEG out to every viewer."""

from thermalstream.live.encoder import EncodedFrame, LiveEncoder, encode_jpeg

__all__ = ["EncodedFrame", "LiveEncoder", "encode_jpeg"]

"""Where a YOLO detector computes (``Settings.detect_device``, ``THERMALSTREAM_DETECT_DEVICE``).

* ``auto`` (default): a GPU when an installed runtime can use one, else the CPU. ONNX Runtime uses
  a GPU through its ``CUDAExecutionProvider`` (the ``onnxruntime-gpu`` build); the torch backend
  through CUDA. With such an ONNX Runtime, ``auto`` tries the ``onnx`` backend first (OpenVINO here
  runs on the CPU).
* ``cpu``: the CPU, even where a GPU is usable.
* ``gpu``: a GPU or nothing: with no runtime able to use one, the detector is ``unavailable`` and its
  message says what to install.

Which device a loaded detector uses is part of its status message ("onnx on cuda at 256x320 ...").
"""

from __future__ import annotations

DEVICES = ("auto", "cpu", "gpu")
CUDA_EP = "CUDAExecutionProvider"
CPU_EP = "CPUExecutionProvider"


def check_device(device: str) -> str:
    if device not in DEVICES:
        raise ValueError(f"unknown detector device {device!r}; choose one of {', '.join(DEVICES)}")
    return device


def onnx_available() -> list[str]:
    """ONNX Runtime's execution providers in this environment (none: not installed)."""
    try:
        import onnxruntime as ort
    except ImportError:
        return []
    return list(ort.get_available_providers())


def onnx_providers(device: str, available: list[str]) -> list[str]:
    """The providers an ONNX Runtime session is asked for: CUDA first where usable and allowed."""
    return [CUDA_EP, CPU_EP] if device != "cpu" and CUDA_EP in available else [CPU_EP]


def torch_device(device: str) -> str:
    """The torch device of the torch backend: ``cuda:0`` where CUDA works and is allowed, else ``cpu``."""
    if device == "cpu":
        return "cpu"
    import torch

    return "cuda:0" if torch.cuda.is_available() else "cpu"


def backend_order(device: str, requested: str, backends: tuple[str, ...], onnx_gpu: bool) -> list[str]:
    """Backends to try, in order: ``requested`` alone, or for ``auto`` the fastest first, ONNX Runtime
    first when it can use a GPU; with ``gpu`` only those that can (OpenVINO runs on the CPU here)."""
    order = [requested] if requested != "auto" else list(backends)
    if device != "cpu" and onnx_gpu and "onnx" in order:
        order.remove("onnx")
        order.insert(0, "onnx")
    if device == "gpu":
        order = [b for b in order if b != "openvino" and (b != "onnx" or onnx_gpu)]
    return order


def no_gpu_message(tried: list[str]) -> str:
    """What to do when ``gpu`` was asked for and nothing here can use one."""
    seen = f" ({'; '.join(tried)})" if tried else ""
    return ("THERMALSTREAM_DETECT_DEVICE=gpu, but no installed runtime can use a GPU here" + seen + ": install "
            "onnxruntime-gpu (CUDA) or torch with CUDA, or set THERMALSTREAM_DETECT_DEVICE=auto to run on the CPU")

"""Panel views the core offers to notebooks (``ts.CameraView``, ``camera.view()``).

Importing :mod:`thermalstream` never imports Panel: these modules are loaded only when a view is asked
for (``thermalstream.__getattr__`` and :meth:`Camera.view` import them on first use).
"""

"""A served ThermalStream from a researcher's laptop: the same calls as ``thermalstream`` itself,
through the JWT API.

>>> lab = ts.connect("https://lab:5006", username="ana", password="…")   # or token="…" (access token)
>>> lab.detections(camera=1, since="2026-11-30")                         # DataFrame, same columns
>>> lab.recordings(camera=1)
>>> lab.roi_series("bearing", since="2026-11-30")                        # an ROI's temperature series
>>> da = lab.open_recording(12, step=5)                                  # xarray.DataArray (a NetCDF export)

Only what the account may see comes back, exactly as in the dashboard. With a username and password
the client logs in and refreshes its 15-minute access token by itself; with ``token=`` alone it uses
that token until it expires.
"""

from __future__ import annotations

import json
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

PAGE = 1000


class RemoteError(RuntimeError):
    """The server refused or failed a call; the message is the server's."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


class RemoteThermalStream:
    def __init__(self, url: str, token: str | None = None, *, username: str | None = None,
                 password: str | None = None, timeout: float = 30.0) -> None:
        self.base = url.rstrip("/")
        self.timeout = timeout
        self._access = token
        self._refresh: str | None = None
        if username is not None:
            self._login(username, password or "")
        elif token is None:
            raise ValueError("give token=… (an access token from POST /api/auth/token) or username= and password=")

    # --- HTTP ------------------------------------------------------------------------------------
    def _login(self, username: str, password: str) -> None:
        pair = self._call("POST", "/api/auth/token", {"username": username, "password": password}, auth=False)
        self._access, self._refresh = pair["access_token"], pair["refresh_token"]

    def _call(self, method: str, path: str, body: dict | None = None, *, auth: bool = True, raw: bool = False,
              retry: bool = True) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data else {}
        if auth:
            headers["Authorization"] = f"Bearer {self._access}"
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                payload = resp.read()
        except urllib.error.HTTPError as exc:
            if exc.code == 401 and auth and retry and self._refresh:
                pair = self._call("POST", "/api/auth/refresh", {"refresh_token": self._refresh}, auth=False)
                self._access, self._refresh = pair["access_token"], pair["refresh_token"]
                return self._call(method, path, body, raw=raw, retry=False)
            raise RemoteError(exc.code, _message(exc)) from None
        except urllib.error.URLError as exc:
            raise RemoteError(0, f"cannot reach {self.base}: {exc.reason}") from None
        return payload if raw else json.loads(payload or b"null")

    def _get(self, path: str, **query: Any) -> Any:
        q = urllib.parse.urlencode({k: _q(v) for k, v in query.items() if v is not None})
        return self._call("GET", f"{path}?{q}" if q else path)

    # --- the notebook calls ----------------------------------------------------------------------
    def cameras(self):
        import pandas as pd

        return pd.DataFrame(self._get("/api/cameras")["cameras"])

    def detections(self, camera=None, label=None, since=None, until=None, min_confidence=None,
                   limit: int | None = 10000):
        """Detections as a DataFrame, oldest first (as ``ts.detections``)."""
        rows = self._paged("/api/detections", "detections", limit, camera=camera, since=since, until=until,
                           min_confidence=min_confidence, **{"class": label})
        for r in rows:
            r["x1"], r["y1"], r["x2"], r["y2"] = r.pop("box")
        return _table(rows, ("timestamp",))

    def events(self, camera=None, label=None, since=None, until=None, limit: int | None = 10000):
        rows = self._paged("/api/events", "events", limit, camera=camera, since=since, until=until,
                           **{"class": label})
        return _table(rows, ("started_at", "ended_at"))

    def roi_series(self, roi, since=None, until=None, resolution: str = "auto"):
        """An ROI's series as a DataFrame (as ``ts.roi_series``); ``roi`` an id or a unique name."""
        if not isinstance(roi, int):
            ids = [r["id"] for c in self._get("/api/cameras")["cameras"]
                   for r in self._get(f"/api/cameras/{c['id']}/rois")["rois"] if r["name"] == str(roi)]
            if len(ids) != 1:
                raise LookupError(f"{len(ids) or 'no'} ROI(s) named {roi!r}" + (": give the id" if ids else ""))
            roi = ids[0]
        rows = self._get(f"/api/rois/{int(roi)}/series", since=since, until=until, resolution=resolution)["points"]
        df = _table([{"timestamp": r.pop("t"), **r} for r in rows], ("timestamp",))
        return df.reindex(columns=["timestamp", "min", "max", "mean", "std", "samples", "unit", "resolution"])

    def recordings(self, camera=None, since=None, until=None):
        rows = self._get("/api/recordings", camera=camera, since=since, until=until, limit=1000)["recordings"]
        return _table(list(reversed(rows)), ("started_at", "ended_at"))

    def export(self, path: str | Path, kind: str, fmt: str | None = None, progress: bool = True,
               **request: Any) -> Path:
        """Run a server-side export (``POST /api/exports``), wait for it and download it to ``path``."""
        path = Path(path)
        fmt = fmt or {".nc": "netcdf", ".h5": "hdf5", ".csv": "csv", ".parquet": "parquet"}[path.suffix]
        body = {"kind": kind, "format": fmt, **{k: _q(v) for k, v in request.items() if v is not None}}
        job = self._call("POST", "/api/exports", body)
        bar = _bar(progress)
        while job["status"] in ("queued", "running"):
            bar(job["progress"])
            time.sleep(0.25)
            job = self._call("GET", f"/api/exports/{job['id']}")
        bar(1.0 if job["status"] == "done" else job["progress"], close=True)
        if job["status"] != "done":
            raise RemoteError(500, f"export failed: {job['error']}")
        path.write_bytes(self._call("GET", job["download_url"], raw=True))
        return path

    def open_recording(self, recording_id: int, start=None, end=None, step: int = 1, path: str | Path | None = None):
        """A recording's temperatures as an ``xarray.DataArray`` (time, y, x), through a NetCDF export
        (kept at ``path``, else in a temporary file that lives as long as the array)."""
        import xarray as xr

        target = Path(path) if path else Path(tempfile.mkdtemp(prefix="thermalstream-")) / f"rec{recording_id}.nc"
        self.export(target, "radiometric", "netcdf", recording_id=recording_id, since=start, until=end, step=step)
        ds = xr.open_dataset(target)
        return ds[next(iter(ds.data_vars))]

    def _paged(self, path: str, key: str, limit: int | None, **filters: Any) -> list[dict]:
        rows: list[dict] = []
        while limit is None or len(rows) < limit:
            n = PAGE if limit is None else min(PAGE, limit - len(rows))
            page = self._get(path, limit=n, offset=len(rows), **filters)
            rows.extend(page[key])
            if len(page[key]) < n:
                break
        return list(reversed(rows))  # the API pages newest first; DataFrames are oldest first

    def __repr__(self) -> str:
        return f"RemoteThermalStream({self.base!r})"


def _q(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _message(exc: urllib.error.HTTPError) -> str:
    try:
        return json.loads(exc.read() or b"{}").get("error") or exc.reason
    except ValueError:
        return str(exc.reason)


def _table(rows: list[dict], times: tuple[str, ...]):
    import pandas as pd

    df = pd.DataFrame(rows)
    for col in times:
        if col in df:
            df[col] = pd.to_datetime(df[col], utc=True, format="ISO8601")
    return df


def _bar(enabled: bool):
    if not enabled:
        return lambda fraction, close=False: None
    try:  # tqdm's notebook bar needs ipywidgets; without it tqdm.auto prints a warning into the notebook
        import ipywidgets  # noqa: F401
        from tqdm.auto import tqdm
    except ImportError:
        from tqdm import tqdm

    bar = tqdm(total=100, unit="%", desc="export")

    def update(fraction: float, close: bool = False) -> None:
        bar.update(int(fraction * 100) - bar.n)
        if close:
            bar.close()

    return update


def connect(url: str, token: str | None = None, **kwargs: Any) -> RemoteThermalStream:
    """A served instance as a :class:`RemoteThermalStream`."""
    return RemoteThermalStream(url, token, **kwargs)


__all__ = ["RemoteError", "RemoteThermalStream", "connect"]

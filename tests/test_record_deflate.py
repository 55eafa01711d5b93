"""The radiometric writer makes its gzip chunks itself (record/deflate.py, ISA-L) instead of HDF5's
zlib: the chunks must be what HDF5's own shuffle and deflate filters decode, bit for bit, in h5py
and in h5dump. Its speed is measured by bench/radiometric_write.py against HDF5's filter."""

from __future__ import annotations

import shutil
import subprocess
import zlib

import h5py
import numpy as np
import pytest

from thermalstream.record.deflate import gzip_chunk, shuffled
from thermalstream.record.radiometric import RadiometricOptions, RadiometricWriter, read_radiometric
from thermalstream.sources.sim import SimSource

SIM = "sim://?people=2&width=161&height=97&seed=3&pace=0"  # odd sizes: no row or byte lines up by luck


@pytest.mark.parametrize("dtype", [np.uint16, np.float32, np.int64, np.uint8])
def test_shuffle_is_hdf5s(tmp_path, dtype):
    """HDF5's own shuffle filter (h5py writes, the chunk read back raw and inflated) gives the same bytes."""
    a = (np.random.default_rng(1).normal(300, 40, (97, 161))).astype(dtype)
    with h5py.File(tmp_path / "f.h5", "w") as f:
        ds = f.create_dataset("x", (1, 97, 161), dtype, chunks=(1, 97, 161), compression="gzip", shuffle=True)
        ds[0] = a
        _mask, chunk = ds.id.read_direct_chunk((0, 0, 0))
    assert zlib.decompress(chunk) == b"".join(p.tobytes() for p in shuffled(a))


def test_default_writer_chunks_are_ours_and_decode_everywhere(tmp_path):
    """The default file (raw counts, gzip 1, shuffle): each chunk is record/deflate's (HDF5's zlib
    made other bytes before), its filters are the declared ones, and h5py, read_radiometric and
    h5dump read back exactly the frames written."""
    sim = SimSource(SIM)
    frames = [sim.read() for _ in range(6)]
    path = tmp_path / "seg.h5"
    w = RadiometricWriter(path)
    for fr in frames:
        w.write(fr)
    w.close()
    with h5py.File(path, "r") as f:
        ds = f["raw"]
        assert (ds.compression, ds.compression_opts, ds.shuffle) == ("gzip", 1, True)
        for i, fr in enumerate(frames):
            assert ds.id.read_direct_chunk((i, 0, 0))[1] == gzip_chunk(fr.raw, 1, True)
        assert np.array_equal(ds[...], np.stack([fr.raw for fr in frames]))
    got = read_radiometric(path)
    assert np.array_equal(got.data, np.stack([fr.raw for fr in frames]))
    assert got.timestamps.tolist() == [fr.timestamp for fr in frames]
    assert shutil.which("h5dump"), "h5dump (Debian hdf5-tools) is installed by scripts/system-deps.sh"
    out = subprocess.run(["h5dump", "-d", "/raw", "-s", "5,96,157", "-c", "1,1,4", str(path)],
                         check=False, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert ", ".join(str(v) for v in frames[5].raw[96, 157:161]) in out.stdout


def test_celsius_foreign_dtypes_and_other_levels(tmp_path):
    """°C (float32, here given as big-endian float64) as HDF5 would have converted them; a gzip
    level ISA-L lacks (6) and lzf go through HDF5's own filters; all read back unchanged."""
    sim = SimSource(SIM)
    frames = [sim.read() for _ in range(3)]
    for opts in (RadiometricOptions(mode="celsius"), RadiometricOptions(mode="both", gzip_level=6),
                 RadiometricOptions(mode="celsius", compression="lzf"), RadiometricOptions(mode="celsius", shuffle=False)):
        path = tmp_path / f"{opts.mode}-{opts.compression}-{opts.gzip_level}-{opts.shuffle}.h5"
        w = RadiometricWriter(path, opts)
        for fr in frames:
            fr.celsius = fr.celsius.astype(">f8")
            w.write(fr)
        w.close()
        with h5py.File(path, "r") as f:
            assert f["celsius"].dtype == np.float32
            assert np.array_equal(f["celsius"][...], np.stack([fr.celsius.astype(np.float32) for fr in frames]))
            if "raw" in f:
                assert np.array_equal(f["raw"][...], np.stack([fr.raw for fr in frames]))


def test_a_level_outside_isal_is_refused_by_the_fast_path():
    with pytest.raises(ValueError, match="0-3"):
        gzip_chunk(np.zeros((2, 2), np.uint16), 6, True)

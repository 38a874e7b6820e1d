"""Your own input spikes, from a file: the stimulus a network is exported and simulated with instead of a bundled
data set.

Two formats are read (each checked, every problem one line naming the file and what is wrong):

* **NIR's own spike data** (``nir.write_data``, HDF5): a ``NIRGraphData`` whose input node (``input``, or its only
  node) has a ``TimeGriddedData`` observable (``spikes``, or its only one) of boolean or 0/1 entries
  ``[samples, steps, neurons]`` (an ``EventData`` is binned on its own time step ``dt`` first). The neurons are the
  flat input; the graph (or ``input_shape``) gives its shape. NIR stores no labels: give them in a ``.npz`` beside
  the file as ``labels`` (``<file>.labels.npz``), or go without (then no accuracy is reported).
* a **.npz** with ``spikes`` ``[samples, steps, *input shape]`` (0/1 or bool), optional ``labels`` ``[samples]``
  (integers >= 0) and optional ``dt_s`` (the time step the spikes were binned with, s).

Checked: the file exists and is one of the two; the spikes are binary (no NaN, no negative value, no count > 1); the
shape is ``[samples >= 1, steps >= 1, ...]`` and matches ``input_shape`` and ``n_bins`` when given; labels are one
non-negative integer per sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.device.fileio import sha256_file

FORMATS = ".npz (spikes [samples, steps, *input shape], optional labels, dt_s) or NIR spike data (nir.write_data)"
FIX = f"write the spikes as {FORMATS}"


@dataclass(frozen=True)
class Stimulus:
    """Input spikes ``[samples, steps, *shape]`` (uint8 0/1), their labels (None: unlabelled), the time step they
    were binned with (None: not stated), and where they came from (path and sha256 of the file)."""

    spikes: np.ndarray
    labels: np.ndarray | None
    dt_s: float | None
    path: str
    sha256: str

    @property
    def shape(self) -> tuple[int, ...]:
        """One step's input shape."""
        return tuple(int(v) for v in self.spikes.shape[2:])

    @property
    def n_steps(self) -> int:
        return int(self.spikes.shape[1])

    def as_chw(self) -> np.ndarray:
        """The spikes as event frames ``[samples, steps, C, H, W]``: (C, H, W) as is, (H, W) one channel, (N,) N
        channels of one pixel (a flat input)."""
        s = self.spikes
        if s.ndim == 5:
            return s
        if s.ndim == 4:
            return s[:, :, None]
        if s.ndim == 3:
            return s[:, :, :, None, None]
        raise ConfigError(f"stimulus {self.path}: one step's input has shape {self.shape}; give a flat (N,), an "
                          f"(H, W) or a (C, H, W) input")


def _squeezed(shape) -> tuple[int, ...]:
    """A shape without its leading 1s (a batch axis some exporters keep in the input's shape)."""
    dims = [int(v) for v in shape]
    while len(dims) > 1 and dims[0] == 1:
        dims.pop(0)
    return tuple(dims)


def _binary(spikes: np.ndarray, path: Path) -> np.ndarray:
    if spikes.dtype == bool:
        return spikes.astype(np.uint8)
    if not np.issubdtype(spikes.dtype, np.number):
        raise ConfigError(f"stimulus {path}: spikes of dtype {spikes.dtype} are not numbers; {FIX}")
    arr = spikes.astype(np.float64)
    if np.isnan(arr).any():
        raise ConfigError(f"stimulus {path}: the spikes hold NaN ({int(np.isnan(arr).sum())} entries); every entry "
                          f"must be 0 or 1")
    if (arr < 0).any():
        raise ConfigError(f"stimulus {path}: the spikes hold negative values (smallest {arr.min():g}); every entry "
                          f"must be 0 or 1 (a spike drives one read pulse)")
    if not np.isin(arr, (0.0, 1.0)).all():
        bad = arr[~np.isin(arr, (0.0, 1.0))]
        raise ConfigError(f"stimulus {path}: the spikes are not binary (e.g. {bad.flat[0]:g}; {bad.size} entries); "
                          f"bin them as 0/1 per step (one read pulse per spike)")
    return arr.astype(np.uint8)


def _labels(raw, n: int, path: Path) -> np.ndarray | None:
    if raw is None:
        return None
    labels = np.asarray(raw)
    if labels.shape != (n,) or not (np.issubdtype(labels.dtype, np.integer)
                                    or (np.issubdtype(labels.dtype, np.floating) and np.all(labels == np.round(labels))
                                        and np.all(np.isfinite(labels)))):
        raise ConfigError(f"stimulus {path}: labels of shape {labels.shape} and dtype {labels.dtype}; give one integer "
                          f"class per sample ({n})")
    labels = labels.astype(np.int64)
    if labels.size and labels.min() < 0:
        raise ConfigError(f"stimulus {path}: label {int(labels.min())} is negative; classes count from 0")
    return labels


def _read_nir(path: Path, input_shape: tuple[int, ...] | None) -> tuple[np.ndarray, float | None]:
    import nir
    try:
        data = nir.read_data(str(path))
    except Exception as exc:                        # h5py, a foreign HDF5 layout, nir's own checks
        raise ConfigError(f"stimulus {path} is not NIR spike data ({type(exc).__name__}: {str(exc)[:160]}); "
                          f"{FIX}") from None
    nodes = data.nodes
    node = nodes.get("input") if "input" in nodes else (next(iter(nodes.values())) if len(nodes) == 1 else None)
    if node is None or not hasattr(node, "observables"):
        raise ConfigError(f"stimulus {path}: NIR spike data without an 'input' node (nodes: {sorted(nodes)}); store "
                          f"the input spikes under the node 'input'")
    obs = node.observables
    grid = obs.get("spikes") if "spikes" in obs else (next(iter(obs.values())) if len(obs) == 1 else None)
    if grid is None:
        raise ConfigError(f"stimulus {path}: the input node has observables {sorted(obs)}; store the spikes as "
                          f"'spikes'")
    if isinstance(grid, nir.EventData):
        raise ConfigError(f"stimulus {path}: the input spikes are EventData (times, not steps); bin them on the "
                          f"network's time step first (EventData.to_time_gridded(dt))")
    spikes = np.asarray(grid.data)
    if input_shape is not None and spikes.ndim == 3 and int(np.prod(input_shape)) == spikes.shape[2]:
        spikes = spikes.reshape(*spikes.shape[:2], *input_shape)
    return spikes, float(grid.dt)


def read_stimulus(path: str | Path, *, input_shape: tuple[int, ...] | None = None,
                  n_bins: int | None = None) -> Stimulus:
    """The stimulus file ``path`` (module docstring), checked; ``input_shape`` and ``n_bins``: what the network takes.

    Raises:
        ConfigError: missing, foreign or damaged file; spikes not binary, NaN or negative; wrong shape or step count;
            labels that are not one integer >= 0 per sample.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"stimulus file {path} does not exist; {FIX}")
    raw_labels = None
    dt_s: float | None = None
    if path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as f:
                if "spikes" not in f.files:
                    raise ConfigError(f"stimulus {path} has no 'spikes' array (arrays: {', '.join(f.files) or 'none'});"
                                      f" {FIX}")
                spikes = f["spikes"]
                raw_labels = f["labels"] if "labels" in f.files else None
                if "dt_s" in f.files:
                    dt_s = float(f["dt_s"])
        except ConfigError:
            raise
        except Exception as exc:                    # zip damage, pickled objects, a truncated array
            raise ConfigError(f"stimulus {path} is not a readable .npz ({type(exc).__name__}: {str(exc)[:120]}); "
                              f"{FIX}") from None
    else:
        spikes, dt_s = _read_nir(path, input_shape)
        side = path.with_name(path.name + ".labels.npz")
        if side.is_file():
            with np.load(side, allow_pickle=False) as f:
                raw_labels = f["labels"] if "labels" in f.files else None
    spikes = np.asarray(spikes)
    if spikes.ndim < 3 or spikes.shape[0] < 1 or spikes.shape[1] < 1 or 0 in spikes.shape:
        raise ConfigError(f"stimulus {path}: spikes of shape {spikes.shape}; give [samples, steps, *input shape] with "
                          f"at least one sample and one step")
    if input_shape is not None and tuple(spikes.shape[2:]) != tuple(input_shape) \
            and _squeezed(spikes.shape[2:]) == _squeezed(input_shape):
        spikes = spikes.reshape(*spikes.shape[:2], *input_shape)      # a graph's shape with leading 1s (Norse: (1, N))
    if input_shape is not None and tuple(spikes.shape[2:]) != tuple(input_shape):
        raise ConfigError(f"stimulus {path}: one step's input has shape {tuple(spikes.shape[2:])}, the network takes "
                          f"{tuple(input_shape)}; write the spikes in the network's input shape")
    if n_bins is not None and spikes.shape[1] != n_bins:
        raise ConfigError(f"stimulus {path}: {spikes.shape[1]} steps per sample, the network runs {n_bins}; bin the "
                          f"spikes into {n_bins} steps")
    if dt_s is not None and not (np.isfinite(dt_s) and dt_s > 0):
        raise ConfigError(f"stimulus {path}: dt_s ({dt_s}) must be a positive time step in seconds")
    binary = _binary(spikes, path)
    return Stimulus(binary, _labels(raw_labels, binary.shape[0], path), dt_s, str(path.resolve()), sha256_file(path))


def write_stimulus(path: str | Path, spikes: np.ndarray, labels: np.ndarray | None = None,
                   dt_s: float | None = None) -> Path:
    """Write spikes (and labels, time step) as the documented ``.npz`` (what :func:`read_stimulus` reads)."""
    path = Path(path)
    arrays: dict[str, np.ndarray] = {"spikes": np.asarray(spikes).astype(np.uint8)}
    if labels is not None:
        arrays["labels"] = np.asarray(labels, dtype=np.int64)
    if dt_s is not None:
        arrays["dt_s"] = np.asarray(float(dt_s))
    np.savez_compressed(path, allow_pickle=False, **arrays)
    return path

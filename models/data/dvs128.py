"""Loaders for IBM DVS128 Gesture (Amir et al., CVPR 2017) from files the user already has.

No download happens here. Get the data set from IBM Research,
https://research.ibm.com/interactive/dvsgesture/ (``DvsGesture.tar.gz``), or let tonic fetch its
pre-processed copy, then point :func:`load_dvs128_gesture` at the folder. Two layouts are read:

1. Original recordings, ``DvsGesture/userXX_<lighting>.aedat`` (AEDAT 3.1) with
   ``userXX_<lighting>_labels.csv`` (header ``class,startTime_usec,endTime_usec``, classes 1..11,
   times on the recording's clock in us) and the split lists ``trials_to_train.txt`` /
   ``trials_to_test.txt`` (one ``.aedat`` name per line). A sample is the events with
   ``start <= t < end`` of one label row. Source of the layout: SpikingJelly,
   ``fangwei123456/spikingjelly:spikingjelly/datasets/dvs128_gesture.py`` (reads the split lists,
   the ``_labels.csv`` companions with ``np.loadtxt(..., delimiter=',', skiprows=1)`` and cuts
   ``t_start <= t < t_end``).

   AEDAT 3.1 (iniVation, https://docs.inivation.com/software/software-advanced-usage/file-formats/aedat-3.1.html):
   ASCII header lines starting with ``#`` and ending in CRLF, the first ``#!AER-DAT3.1``, the last
   ``#!END-HEADER``; then event packets, all little-endian: a 28-byte header (int16 eventType,
   int16 eventSource, int32 eventSize, int32 eventTSOffset, int32 eventTSOverflow, int32
   eventCapacity, int32 eventNumber, int32 eventValid; libcaer ``include/libcaer/events/common.h``,
   ``CAER_EVENT_PACKET_HEADER_SIZE 28``) followed by ``eventCapacity * eventSize`` bytes of events
   (cAER writes packets with capacity = number; the body length used by libcaer's packet memory
   layout and by the SpikingJelly and dv-python readers is capacity x size). Polarity events are
   eventType 1, eventSize 8: uint32 data, int32 timestamp (us). Data bits (libcaer
   ``include/libcaer/events/polarity.h``: ``POLARITY_SHIFT 1``, ``POLARITY_Y_ADDR_SHIFT 2``,
   ``POLARITY_X_ADDR_SHIFT 17``, masks ``0x7FFF``; ``common.h``: ``VALID_MARK_SHIFT 0``,
   ``TS_OVERFLOW_SHIFT 31``): bit 0 valid, bit 1 polarity (1 = ON), bits 2-16 y, bits 17-31 x;
   origin top-left (AEDAT 3.0 had it bottom-left). Full timestamp = ``(eventTSOverflow << 31) |
   timestamp``. Events with the valid bit clear and packets of other types are skipped.

2. tonic's pre-processed copy (``neuromorphs/tonic:tonic/datasets/dvsgesture.py``):
   ``ibmGestureTrain/`` and ``ibmGestureTest/``, one folder per recording, one file per sample
   named ``<label>.npy`` with the 0-based label as the file stem (tonic: ``int(file[:-4])``); each
   file is an ``[N, 4]`` array with columns x, y, p, t and t in milliseconds (tonic multiplies
   ``events[:, 3] *= 1000`` to get microseconds; "temporal precision is reduced to ms").

Frames: coordinates are downsampled from 128x128 by ``x' = floor(x W / 128)``, ``y' = floor(y H /
128)`` (for 32x32: ``x // 4``, each output pixel pools a 4x4 block). Each sample is binned over its
own window: AEDAT samples over ``[start, start + D)`` with ``D`` the label length rounded *down* to
a multiple of ``n_bins`` (no event after the labelled end is used); tonic samples over ``[t_first,
t_first + D)`` with ``D = t_last - t_first + 1`` rounded *up* to a multiple of ``n_bins`` (every
event is used).
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np

from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.models.data.events import (
    DataFormatError, EventFrames, downsample_events, events_to_frames, make_events)

DVS_GESTURE_CLASSES: tuple[str, ...] = (
    "hand_clapping", "right_hand_wave", "left_hand_wave", "right_arm_clockwise",
    "right_arm_counter_clockwise", "left_arm_clockwise", "left_arm_counter_clockwise",
    "arm_roll", "air_drums", "air_guitar", "other_gestures",
)
SENSOR_SIZE = 128
DOWNLOAD_HINT = ("Get DVS128 Gesture from IBM Research (https://research.ibm.com/interactive/dvsgesture/, "
                 "DvsGesture.tar.gz) or tonic's copy (ibmGestureTrain/ibmGestureTest)")
AEDAT31_MAGIC = b"#!AER-DAT3.1"
HEADER_END = b"#!END-HEADER"
PACKET_HEADER = struct.Struct("<hhiiiiii")
POLARITY_EVENT = 1
TONIC_FOLDERS = {"train": "ibmGestureTrain", "test": "ibmGestureTest"}
TRIALS_FILES = {"train": "trials_to_train.txt", "test": "trials_to_test.txt"}


# -- AEDAT 3.1 ----------------------------------------------------------------------------------

def read_aedat31(path: str | Path) -> np.ndarray:
    """Read the polarity events of an AEDAT 3.1 file.

    Args:
        path: The ``.aedat`` file.

    Returns:
        Events (:data:`~ipnet_cosim.models.data.events.EVENT_DTYPE`) sorted by time; ``t`` is the
        recording clock in us including the timestamp overflow.

    Raises:
        ConfigError: The file does not exist.
        DataFormatError: Wrong first line (not AEDAT 3.1), unterminated header, truncated packet,
            inconsistent packet header or a polarity packet with an event size other than 8.
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"AEDAT file not found: {p}. {DOWNLOAD_HINT}")
    raw = p.read_bytes()
    first_end = raw.find(b"\n")
    first = raw[:first_end if first_end >= 0 else 64].rstrip(b"\r\n")
    if first != AEDAT31_MAGIC:
        if first.startswith(b"#!AER-DAT"):
            version = first[len(b"#!AER-DAT"):].decode("ascii", "replace")
            raise DataFormatError(f"{p}: AEDAT version {version} is not supported; this reader needs AEDAT 3.1 "
                                  f"(first line {AEDAT31_MAGIC.decode()}), the format of DVS128 Gesture")
        raise DataFormatError(f"{p}: not an AEDAT 3.1 file: the first line is {first[:40]!r}, expected "
                              f"{AEDAT31_MAGIC.decode()!r}")
    pos = 0
    while True:
        end = raw.find(b"\n", pos)
        if end < 0 or not raw.startswith(b"#", pos):
            raise DataFormatError(f"{p}: the ASCII header is not terminated by a {HEADER_END.decode()!r} line "
                                  f"(file truncated or not AEDAT 3.1)")
        line = raw[pos:end].rstrip(b"\r")
        pos = end + 1
        if line == HEADER_END:
            break
    ts_parts, data_parts = [], []
    n_raw = len(raw)
    while pos < n_raw:
        if n_raw - pos < PACKET_HEADER.size:
            raise DataFormatError(f"{p}: truncated packet header at byte {pos}: {n_raw - pos} bytes left, "
                                  f"a header needs {PACKET_HEADER.size}")
        (etype, _source, esize, ts_offset, ts_overflow, capacity, number,
         valid) = PACKET_HEADER.unpack_from(raw, pos)
        if esize <= 0 or capacity < 0 or not 0 <= number <= capacity or not 0 <= valid <= number \
                or ts_overflow < 0:
            raise DataFormatError(f"{p}: corrupt packet header at byte {pos} (eventSize={esize}, "
                                  f"eventCapacity={capacity}, eventNumber={number}, eventValid={valid}, "
                                  f"eventTSOverflow={ts_overflow})")
        body = pos + PACKET_HEADER.size
        n_body = capacity * esize
        if body + n_body > n_raw:
            raise DataFormatError(f"{p}: truncated packet at byte {pos}: its header announces {n_body} bytes of "
                                  f"events, only {n_raw - body} remain")
        if etype == POLARITY_EVENT:
            if esize != 8 or ts_offset != 4:
                raise DataFormatError(f"{p}: polarity packet at byte {pos} has eventSize={esize}, "
                                      f"eventTSOffset={ts_offset}; AEDAT 3.1 polarity events are 8 bytes with "
                                      f"the timestamp at offset 4")
            words = np.frombuffer(raw, dtype="<u4", count=2 * number, offset=body).reshape(-1, 2)
            data = words[:, 0]
            ts = words[:, 1].view("<i4").astype(np.int64)
            keep = (data & 1).astype(bool)
            data_parts.append(data[keep])
            ts_parts.append(ts[keep] | (np.int64(ts_overflow) << 31))
        pos = body + n_body
    data = np.concatenate(data_parts) if data_parts else np.zeros(0, np.uint32)
    t = np.concatenate(ts_parts) if ts_parts else np.zeros(0, np.int64)
    return make_events(t, (data >> 17) & 0x7FFF, (data >> 2) & 0x7FFF, (data >> 1) & 1)


def _read_labels_csv(path: Path) -> list[tuple[int, int, int]]:
    if not path.is_file():
        raise ConfigError(f"label file not found: {path} (every userXX_<lighting>.aedat of DVS128 Gesture comes "
                          f"with userXX_<lighting>_labels.csv). {DOWNLOAD_HINT}")
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    if not lines or [c.strip() for c in lines[0].split(",")][:3] != ["class", "startTime_usec", "endTime_usec"]:
        raise DataFormatError(f"{path}: the first line must be the header 'class,startTime_usec,endTime_usec', "
                              f"got {lines[0][:60] if lines else '(empty file)'!r}")
    rows = []
    for n, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        cells = [c.strip() for c in line.split(",")]
        try:
            cls, start, end = (int(c) for c in cells[:3])
        except ValueError:
            raise DataFormatError(f"{path}, line {n}: expected three integers 'class,startTime_usec,endTime_usec', "
                                  f"got {line[:60]!r}") from None
        if len(cells) < 3 or not 1 <= cls <= len(DVS_GESTURE_CLASSES) or end <= start or start < 0:
            raise DataFormatError(f"{path}, line {n}: need class in 1..{len(DVS_GESTURE_CLASSES)} and "
                                  f"0 <= startTime_usec < endTime_usec, got {line[:60]!r}")
        rows.append((cls - 1, start, end))
    return rows


def _recording_samples(aedat_path: Path, labels_csv: Path | None) -> list[tuple[np.ndarray, int, int, int]]:
    """(events, label0, start_us, end_us) for each label row of one recording."""
    aedat_path = Path(aedat_path)
    if labels_csv is None:
        labels_csv = aedat_path.with_name(aedat_path.stem + "_labels.csv")
    rows = _read_labels_csv(Path(labels_csv))
    events = read_aedat31(aedat_path)
    out = []
    for label, start, end in rows:
        lo, hi = np.searchsorted(events["t"], [start, end], side="left")
        out.append((events[lo:hi], label, start, end))
    return out


def load_dvs128_gesture_recording(aedat_path: str | Path,
                                  labels_csv: str | Path | None = None) -> list[tuple[np.ndarray, int]]:
    """Cut one DVS128 Gesture recording into its labelled samples.

    Args:
        aedat_path: ``userXX_<lighting>.aedat`` (AEDAT 3.1).
        labels_csv: Its label file; default ``userXX_<lighting>_labels.csv`` next to it.

    Returns:
        ``[(events, label)]`` in label-file order: the events with ``startTime_usec <= t <
        endTime_usec`` (recording clock, us; sensor coordinates 0..127) and the 0-based class
        index into :data:`DVS_GESTURE_CLASSES`.

    Raises:
        ConfigError: A file is missing.
        DataFormatError: A file is malformed (the message names it).
    """
    return [(ev, label) for ev, label, _, _ in _recording_samples(Path(aedat_path),
                                                                  None if labels_csv is None else Path(labels_csv))]


# -- tonic's .npy layout ------------------------------------------------------------------------

def read_tonic_gesture_npy(path: str | Path) -> np.ndarray:
    """Read one sample of tonic's DVSGesture copy: an ``[N, 4]`` array x, y, p, t (t in ms).

    Args:
        path: The ``<label>.npy`` file.

    Returns:
        Events with ``t = round(1000 t_ms)`` in us, sorted by time.

    Raises:
        ConfigError: The file does not exist.
        DataFormatError: Not a loadable ``.npy`` array of shape ``[N, 4]`` with valid values.
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"tonic DVSGesture sample not found: {p}. {DOWNLOAD_HINT}")
    try:
        arr = np.load(p, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise DataFormatError(f"{p}: not a readable .npy array ({exc})") from exc
    if not isinstance(arr, np.ndarray) or arr.ndim != 2 or arr.shape[1] != 4 or arr.dtype.names is not None \
            or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise DataFormatError(f"{p}: expected a numeric [N, 4] array (columns x, y, p, t in ms, tonic's "
                              f"DVSGesture layout), got shape {getattr(arr, 'shape', None)} dtype "
                              f"{getattr(arr, 'dtype', None)}")
    if arr.size and not np.all(np.isfinite(arr)):
        raise DataFormatError(f"{p}: contains NaN or inf")
    xyp = arr[:, :3]
    if arr.size and (np.any(xyp != np.round(xyp)) or xyp.min() < 0 or not np.all(np.isin(arr[:, 2], (0, 1)))):
        raise DataFormatError(f"{p}: columns x, y must be non-negative integers and p 0/1 (tonic layout x, y, p, t)")
    t_us = np.round(arr[:, 3].astype(np.float64) * 1000.0).astype(np.int64)
    return make_events(t_us, arr[:, 0].astype(np.int64), arr[:, 1].astype(np.int64), arr[:, 2].astype(np.int64))


# -- the data set -------------------------------------------------------------------------------

def _find_aedat_dir(root: Path, split: str) -> Path | None:
    for cand in (root, root / "DvsGesture"):
        if (cand / TRIALS_FILES[split]).is_file():
            return cand
    return None


def _layout_error(root: Path, split: str, layout: str) -> ConfigError:
    return ConfigError(
        f"DVS128 Gesture not found under {root} (layout={layout!r}). Expected either the original layout: "
        f"{TRIALS_FILES[split]} with the listed userXX_<lighting>.aedat and _labels.csv files in {root} or "
        f"{root / 'DvsGesture'}; or tonic's layout: {root / TONIC_FOLDERS[split]}/<recording>/<label>.npy. "
        f"{DOWNLOAD_HINT}")


def _bin_sample(events: np.ndarray, t_start: int, length: int, *, n_bins: int, height: int, width: int,
                binary: bool, source: str) -> np.ndarray:
    try:
        small = downsample_events(events, sensor_height=SENSOR_SIZE, sensor_width=SENSOR_SIZE,
                                  height=height, width=width)
    except ConfigError as exc:
        raise DataFormatError(f"{source}: {exc} (DVS128 coordinates are 0..127)") from None
    return events_to_frames(small, n_bins=n_bins, height=height, width=width, t_start_us=t_start,
                            t_stop_us=t_start + length, binary=binary)


def load_dvs128_gesture(root: str | Path, *, split: str = "train", n_bins: int = 16, height: int = 32,
                        width: int = 32, layout: str = "auto", max_samples: int | None = None,
                        binary: bool = True) -> EventFrames:
    """DVS128 Gesture as event frames (11 classes, :data:`DVS_GESTURE_CLASSES`).

    Args:
        root: Folder holding ``DvsGesture/`` (or its contents) or tonic's ``ibmGestureTrain/`` /
            ``ibmGestureTest/``.
        split: "train" or "test" (the data set's own split by subject).
        n_bins: Time bins per sample.
        height: Output rows (1..128).
        width: Output columns (1..128).
        layout: "auto" (tonic if its folder exists, else the original), "aedat" or "tonic".
        max_samples: Stop after this many samples (None: all).
        binary: Binary frames (True) or counts clipped to 255.

    Returns:
        :class:`EventFrames` in file order (recordings sorted as listed / by path, then label rows).

    Raises:
        ConfigError: Missing root or files, or bad arguments (the message says where to get the
            data set and which layout is expected).
        DataFormatError: A malformed file (named in the message).
    """
    root = Path(root)
    if split not in TRIALS_FILES:
        raise ConfigError(f"split must be 'train' or 'test' (DVS128 Gesture has no other split), got {split!r}")
    if layout not in ("auto", "aedat", "tonic"):
        raise ConfigError(f"layout must be 'auto', 'aedat' or 'tonic', got {layout!r}")
    for name, v, hi in (("n_bins", n_bins, None), ("height", height, SENSOR_SIZE), ("width", width, SENSOR_SIZE)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1 or (hi is not None and v > hi):
            raise ConfigError(f"{name} must be an integer in 1..{hi or 'inf'}, got {v!r}")
    if max_samples is not None and (isinstance(max_samples, bool) or not isinstance(max_samples, (int, np.integer))
                                    or max_samples < 1):
        raise ConfigError(f"max_samples must be a positive integer or None, got {max_samples!r}")
    if not root.is_dir():
        raise ConfigError(f"DVS128 Gesture root folder does not exist: {root}. {DOWNLOAD_HINT}")
    tonic_dir = root / TONIC_FOLDERS[split]
    aedat_dir = _find_aedat_dir(root, split)
    if layout == "auto":
        layout_used = "tonic" if tonic_dir.is_dir() else ("aedat" if aedat_dir is not None else None)
        if layout_used is None:
            raise _layout_error(root, split, layout)
    else:
        layout_used = layout
    limit = max_samples if max_samples is not None else np.iinfo(np.int64).max
    frames: list[np.ndarray] = []
    labels: list[int] = []
    sources: list[str] = []
    kw: dict[str, Any] = dict(n_bins=int(n_bins), height=int(height), width=int(width), binary=bool(binary))

    if layout_used == "tonic":
        if not tonic_dir.is_dir():
            raise _layout_error(root, split, layout)
        files = sorted(tonic_dir.rglob("*.npy"), key=lambda q: q.relative_to(tonic_dir).as_posix())
        if not files:
            raise ConfigError(f"no .npy samples in {tonic_dir} (tonic layout: <recording>/<label>.npy). "
                              f"{DOWNLOAD_HINT}")
        for f in files[:limit]:
            try:
                label = int(f.stem)
            except ValueError:
                raise DataFormatError(f"{f}: tonic names each sample <label>.npy with the 0-based label as "
                                      f"the file name; {f.name!r} is not an integer") from None
            if not 0 <= label < len(DVS_GESTURE_CLASSES):
                raise DataFormatError(f"{f}: label {label} outside 0..{len(DVS_GESTURE_CLASSES) - 1}")
            ev = read_tonic_gesture_npy(f)
            if ev.size:
                t0 = int(ev["t"][0])
                length = int(ev["t"][-1]) - t0 + 1
                length = -(-length // n_bins) * n_bins
            else:
                t0, length = 0, int(n_bins)
            frames.append(_bin_sample(ev, t0, length, source=str(f), **kw))
            labels.append(label)
            sources.append(f.relative_to(root).as_posix())
    else:
        if aedat_dir is None:
            raise _layout_error(root, split, layout)
        trials = aedat_dir / TRIALS_FILES[split]
        names = [ln.strip() for ln in trials.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
        if not names:
            raise DataFormatError(f"{trials}: lists no .aedat files")
        for name in names:
            if len(frames) >= limit:
                break
            aedat = aedat_dir / name
            if not aedat.is_file():
                raise ConfigError(f"{trials} lists {name}, but {aedat} does not exist (incomplete extraction of "
                                  f"DvsGesture.tar.gz?). {DOWNLOAD_HINT}")
            for k, (ev, label, start, end) in enumerate(_recording_samples(aedat, None)):
                if len(frames) >= limit:
                    break
                length = ((end - start) // n_bins) * n_bins
                if length == 0:
                    raise DataFormatError(f"{aedat}: label row {k + 1} lasts {end - start} us, shorter than "
                                          f"n_bins={n_bins} bins of 1 us")
                frames.append(_bin_sample(ev, start, length, source=str(aedat), **kw))
                labels.append(label)
                sources.append(f"{name}#{k}")
    stacked = (np.stack(frames) if frames
               else np.zeros((0, int(n_bins), 2, int(height), int(width)), dtype=np.uint8))
    meta: dict[str, Any] = {
        "dataset": "DVS128 Gesture",
        "root": str(root),
        "layout": layout_used,
        "split": split,
        "n_bins": int(n_bins),
        "height": int(height),
        "width": int(width),
        "binary": bool(binary),
        "downsampling": f"x' = floor(x * {width} / 128), y' = floor(y * {height} / 128)",
        "sources": sources,
    }
    return EventFrames(frames=stacked, labels=np.asarray(labels, dtype=np.int64),
                       class_names=DVS_GESTURE_CLASSES, meta=meta)

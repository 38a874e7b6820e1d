"""What binds a result to its export (:class:`ExportIdentity`), the export as read (:class:`Export`), the one
reader of an export folder (:func:`read_export`) and the claim of a simulation folder that refuses another export's
results (:func:`bind_simulation_folder`)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from ipnet_cosim.device.fileio import format_json, sha256_file, sha256_json, write_json
from ipnet_cosim.netlist_gen.contract.files import ExportError, ExportFiles, ForeignResultsError, SimFiles, read_field
from ipnet_cosim.netlist_gen.contract.records import ExportManifest


@dataclass(frozen=True)
class ExportIdentity:
    """What ties a result to its export: hashes of the manifest's bytes, the checkpoint and the device card."""

    manifest_sha256: str
    checkpoint_sha256: str
    card_sha256: str

    def to_dict(self) -> dict[str, str]:
        return {"manifest_sha256": self.manifest_sha256, "checkpoint_sha256": self.checkpoint_sha256,
                "card_sha256": self.card_sha256}

    @classmethod
    def from_dict(cls, data: Any, where: str) -> "ExportIdentity":
        keys = ("manifest_sha256", "checkpoint_sha256", "card_sha256")
        return cls(*(read_field(data, k, (str,), where) for k in keys))

    def short(self) -> str:
        return f"manifest {self.manifest_sha256[:12]}, checkpoint {self.checkpoint_sha256[:12]}"


@dataclass(frozen=True)
class Export:
    """An export folder read and checked by :func:`read_export`."""

    folder: Path
    manifest: ExportManifest
    identity: ExportIdentity

    def path(self, rel: str) -> Path:
        return self.folder / rel

    def default_sim(self) -> Path:
        return self.folder / ExportFiles.DEFAULT_SIM


def identity_of(manifest_bytes: bytes, manifest: Mapping[str, Any]) -> ExportIdentity:
    ck = manifest.get("checkpoint", {}) if isinstance(manifest, Mapping) else {}
    return ExportIdentity(hashlib.sha256(manifest_bytes).hexdigest(), str(ck.get("sha256", "")),
                          sha256_json(manifest.get("device_card", {})))


def read_export(folder: str | Path, *, need_checkpoint: bool = True) -> Export:
    """Read and validate an export folder (the only reader of ``manifest.json``).

    Raises:
        ExportError: the folder or its manifest is missing, not JSON, of another format or version,
            has a field of the wrong type, its stimulus file is missing, its checkpoint was altered or (with
            ``need_checkpoint``: the PyTorch comparison needs it) is missing.
    """
    folder = Path(folder)
    hint = f"create it with 'ipnet-cosim export CHECKPOINT -o {folder}'"
    if folder.exists() and not folder.is_dir():
        raise ExportError(f"{folder} is a file, not an export folder; pass the folder 'ipnet-cosim export' wrote")
    if not folder.is_dir():
        raise ExportError(f"export folder {folder} does not exist; {hint}")
    path = folder / ExportFiles.MANIFEST
    if not path.is_file():
        raise ExportError(f"{folder} is not an export (no {ExportFiles.MANIFEST}); {hint}")
    data_bytes = path.read_bytes()
    try:
        raw = json.loads(data_bytes.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ExportError(f"{path} is not valid JSON ({exc}); the export is damaged: export again") from exc
    try:
        manifest = ExportManifest.from_dict(raw, str(path))
    except ExportError as exc:
        raise ExportError(f"{exc}; the export is damaged or from another version: export again") from None
    ck = folder / manifest.checkpoint.file
    if need_checkpoint and not ck.is_file():
        raise ExportError(f"{ck} is missing (the PyTorch comparison needs it); export again, or simulate without "
                          f"the comparison (--no-compare)")
    if ck.is_file():
        if sha256_file(ck) != manifest.checkpoint.sha256:
            raise ExportError(f"{ck} does not match the checkpoint sha256 recorded in {path} (the file was "
                              f"replaced or damaged); export again from the original checkpoint")
    samples = folder / manifest.samples.file
    if not samples.is_file():
        raise ExportError(f"{samples} is missing (the exported input frames); export again")
    return Export(folder, manifest, identity_of(data_bytes, raw))


# -- binding results to their export ---------------------------------------------------------------

def _stored_identity(sim: Path) -> tuple[ExportIdentity | None, str]:
    """The export identity a simulation folder records (identity file, else results.json)."""
    for rel in (SimFiles.IDENTITY, SimFiles.RESULTS):
        path = sim / rel
        if not path.is_file():
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, OSError) as exc:
            raise ExportError(f"{path} is damaged ({exc}); move the folder away and simulate again") from exc
        where = str(path)
        if rel == SimFiles.RESULTS:
            if not isinstance(data, Mapping) or "export" not in data:
                raise ForeignResultsError(
                    f"{sim} holds results without an export identity (an older ipnet-cosim, or not a simulation "
                    f"folder); simulate into a new folder with -o, or delete {path} if it may go")
            data, where = data["export"], f"{path} export"
        return ExportIdentity.from_dict(data, where), where
    return None, ""


def bind_simulation_folder(sim: str | Path, export: Export) -> None:
    """Claim ``sim`` for ``export``'s results, or refuse when it holds another export's results.

    Writes ``export_identity.json`` (before any simulation runs, so the cache is bound too).

    Raises:
        ForeignResultsError: ``sim`` holds results or a cache of another export.
    """
    sim = Path(sim)
    if sim.exists() and not sim.is_dir():
        raise ExportError(f"simulation folder {sim} is a file; choose a folder with -o")
    stored, where = _stored_identity(sim) if sim.is_dir() else (None, "")
    if stored is not None and stored != export.identity:
        raise ForeignResultsError(
            f"{sim} holds the results of another export ({stored.short()}; this export: "
            f"{export.identity.short()}); simulate into a new folder with -o (results are never overwritten)")
    if stored is None and sim.is_dir() and (sim / SimFiles.CACHE).is_dir():
        raise ForeignResultsError(f"{sim} holds a unit cache of unknown origin (no {SimFiles.IDENTITY}); simulate "
                                  f"into a new folder with -o, or delete {sim / SimFiles.CACHE}")
    sim.mkdir(parents=True, exist_ok=True)
    path = sim / SimFiles.IDENTITY
    if not path.is_file():
        write_json(path, export.identity.to_dict())


def check_checkpoint_summary(summary: Mapping[str, Any], raw: Mapping[str, Any], where: str) -> None:
    """A ``checkpoint.json`` must repeat its ``checkpoint.pt``'s configuration (it is shipped with the export).

    Raises:
        ExportError: a field that both hold differs.
    """
    for key in ("format", "format_version", "network_config", "device_card", "data_config", "epoch", "class_names"):
        if key in summary and key in raw and format_json(summary[key]) != format_json(raw[key]):
            raise ExportError(f"{where} contradicts its checkpoint.pt ('{key}' differs); it was edited or belongs "
                              f"to another checkpoint: delete it or save the checkpoint again")

"""What binds a result to its export (:class:`ExportIdentity`), the export as read (:class:`Export`), the one
reader of an export folder (:func:`read_export`), the record of ``results.json`` (:class:`SimulationResults`)
and the checks that refuse another export's results (:func:`bind_simulation_folder`, :func:`read_results`)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from ipnet_cosim.device.fileio import format_json, sha256_file, sha256_json, write_json
from ipnet_cosim.netlist_gen.contract.files import (RESULTS_FORMAT, RESULTS_VERSION, ExportError, ExportFiles,
                                                    ForeignResultsError, SimFiles, read_field)
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


#: what every reader of a results summary relies on, with its types (the accuracy is never defaulted)
SUMMARY_FIELDS: dict[str, tuple[type, ...]] = {"samples": (int,), "circuit_accuracy": (float, int),
                                               "circuit_accuracy_ci95": (list,), "layers": (list,)}


@dataclass(frozen=True)
class SimulationResults:
    """``results.json`` of a simulation folder: the export it belongs to, provenance, the summary, one entry
    per sample (classes, scores, per-layer spike agreement), degenerate-circuit warnings and the safe
    operating area. The inner tables are written by :mod:`~ipnet_cosim.simulation.simulate`; this record
    checks the parts every reader relies on."""

    export: ExportIdentity
    what: str
    provenance: dict[str, Any]
    summary: dict[str, Any]
    per_sample: tuple[dict[str, Any], ...]
    soa: dict[str, Any]
    warnings: tuple[dict[str, Any], ...] = ()
    format: str = RESULTS_FORMAT
    format_version: int = RESULTS_VERSION

    @property
    def samples(self) -> tuple[int, ...]:
        return tuple(int(e["sample"]) for e in self.per_sample)

    def to_dict(self) -> dict[str, Any]:
        return {"format": self.format, "format_version": self.format_version, "export": self.export.to_dict(),
                "what": self.what, "provenance": self.provenance, "summary": self.summary,
                "per_sample": list(self.per_sample), "warnings": list(self.warnings), "soa": self.soa}

    @classmethod
    def from_dict(cls, data: Any, where: str = SimFiles.RESULTS) -> "SimulationResults":
        if not isinstance(data, Mapping):
            raise ExportError(f"{where} must hold a table")
        per_sample = read_field(data, "per_sample", (list,), where)
        if not per_sample:
            raise ExportError(f"{where} lists no samples")
        for i, entry in enumerate(per_sample):
            if not isinstance(entry, Mapping) or not isinstance(entry.get("sample"), int) \
                    or not isinstance(entry.get("circuit_logits"), list):
                raise ExportError(f"{where} per_sample[{i}] lacks an integer 'sample' or its 'circuit_logits'")
        warnings = read_field(data, "warnings", (list,), where, [])
        summary = read_field(data, "summary", (dict,), where)
        for key, types in SUMMARY_FIELDS.items():
            value = summary.get(key)
            if isinstance(value, bool) or not isinstance(value, types):
                raise ExportError(f"{where} summary lacks '{key}' (or it is not a {types[0].__name__}): the results "
                                  f"are damaged; simulate again")
        return cls(ExportIdentity.from_dict(read_field(data, "export", (dict,), where), f"{where} export"),
                   read_field(data, "what", (str,), where, ""), read_field(data, "provenance", (dict,), where),
                   summary, tuple(per_sample),
                   read_field(data, "soa", (dict,), where), tuple(dict(w) for w in warnings if isinstance(w, Mapping)),
                   read_field(data, "format", (str,), where), read_field(data, "format_version", (int,), where))


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


def read_results(sim: str | Path, export: Export) -> SimulationResults:
    """Read ``results.json`` of ``sim`` and check it belongs to ``export``.

    Raises:
        ExportError: missing, damaged or of another version; ForeignResultsError: simulated from another export.
    """
    sim = Path(sim)
    path = sim / SimFiles.RESULTS
    if not path.is_file():
        again = "" if sim == export.default_sim() else f" -o {sim}"
        raise ExportError(f"{export.folder} has not been simulated into {sim} ({path} is missing); run "
                          f"'ipnet-cosim simulate {export.folder}{again}' first")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ExportError(f"{path} is not valid JSON ({exc}); simulate again") from exc
    if not isinstance(data, Mapping) or data.get("format") != RESULTS_FORMAT:
        if isinstance(data, Mapping) and "per_sample" in data:
            raise ForeignResultsError(f"{path} was written by an older ipnet-cosim without an export identity, so "
                                      f"it cannot be tied to {export.folder}; simulate again")
        raise ExportError(f"{path} is not an ipnet-cosim simulation result; simulate again")
    if data.get("format_version") != RESULTS_VERSION:
        raise ExportError(f"{path} has results format version {data.get('format_version')!r}; this ipnet-cosim "
                          f"reads version {RESULTS_VERSION}: simulate again")
    stored = ExportIdentity.from_dict(data.get("export"), f"{path} export")
    if stored != export.identity:
        raise ForeignResultsError(f"{sim} holds a simulation of another export ({stored.short()}), not of "
                                  f"{export.folder} ({export.identity.short()}); pass that export's folder, or "
                                  f"simulate this one with 'ipnet-cosim simulate {export.folder} -o NEW_FOLDER'")
    try:
        return SimulationResults.from_dict(data, str(path))
    except ExportError as exc:
        raise ExportError(f"{exc}; the file is damaged: simulate again") from None


def check_checkpoint_summary(summary: Mapping[str, Any], raw: Mapping[str, Any], where: str) -> None:
    """A ``checkpoint.json`` must repeat its ``checkpoint.pt``'s configuration (it is shipped with the export).

    Raises:
        ExportError: a field that both hold differs.
    """
    for key in ("format", "format_version", "network_config", "device_card", "data_config", "epoch", "class_names"):
        if key in summary and key in raw and format_json(summary[key]) != format_json(raw[key]):
            raise ExportError(f"{where} contradicts its checkpoint.pt ('{key}' differs); it was edited or belongs "
                              f"to another checkpoint: delete it or save the checkpoint again")

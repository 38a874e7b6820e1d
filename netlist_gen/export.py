"""``ipnet-cosim export``: a trained checkpoint to a folder of crossbar netlists, stimulus and a manifest.

Everything is checked and built in memory first (checkpoint, architecture, layer mappings,
weights, options, samples, every netlist validated with networkx); files are written into a
temporary folder that is renamed into place at the end, so a bad input never leaves a
half-written export behind, and an existing export is never overwritten.

Folder layout::

    manifest.json            tiles -> layers, rows -> inputs, columns -> neurons, all options
    netlists/<unit>.cir      one ngspice deck per unit (position x column block); its row tiles
                             are .subckt's; row drivers Vx* are 0 V placeholders
    ports/<unit>.npz         the unit's crossbar as its exact port model (port conductances, row
                             couplings; netlist_gen.ports), what 'simulate' gives the simulator by default
    stimulus/samples.npz     input frames, labels and test-set indices of the exported samples
    stimulus/sample_<i>/<unit>.inc   layer-0 row drivers of sample i (replace the Vx* lines)
    device/                  the Verilog-A source and the compiled OSDI library
    checkpoint/              a copy of the checkpoint (for the PyTorch comparison)
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ipnet_cosim.device.draws import Firing
from ipnet_cosim.device.errors import CheckpointError, ConfigError
from ipnet_cosim.device.fileio import sha256_file, write_json
from ipnet_cosim.netlist_gen.contract import EXPORT_FORMAT, EXPORT_VERSION  # noqa: F401 (re-exported)
from ipnet_cosim.netlist_gen.contract import (CheckpointRecord, DeviceRecord, ExportFiles, ExportManifest, LayerRecord,
                                              SamplesRecord, TileRecord, TimingRecord, UnitRecord,
                                              check_checkpoint_summary)
from ipnet_cosim.netlist_gen.mapping import (BIAS, FAST_MODEL, HEAT_MODEL, PAD, LayerMatrix, MappingOptions, Unit,
                                             conductances, layer_units, network_layers, LAYER_MAPPINGS)
from ipnet_cosim.netlist_gen.unit_circuits import driver_sources, read_delay_s, tile_ports, unit_circuit
from ipnet_cosim.circuits.ngspice import format_element, format_ngspice
from ipnet_cosim.netlist_gen.ports import UnitPorts

MANIFEST = ExportFiles.MANIFEST
MAPPABLE_ARCHS = ("ipnet", "memoryless")
INTERFACE = {
    "rows": "im2col inputs of the layer then one bias row; an input spike at step s is one read pulse of "
            "v_read_v rising over t_rise from s t_step, held to s t_step + t_pulse, falling over t_fall; the bias row "
            "is pulsed every step; "
            "rows in a conv's zero padding are held at 0 V",
    "columns": "every weight is a differential pair G+ = G_min + k max(W,0), G- = G_min + k max(-W,0) on two "
               "physical columns ending in 0 V sense sources Vsp<tile>_<j>, Vsm<tile>_<j>",
    "partial_sums": "each row tile has its own sense sources and mirrors; the mirror outputs of all row tiles "
                    "of a column are summed in current at the neuron input node a<j> (Kirchhoff)",
    "bit_slicing": "with conductance.slices = S > 1 each weight is an integer code written in base 'levels' over S "
                   "differential pairs (slice columns k = j S + s, digit s, least significant first) whose mirrors "
                   "have gain L^s mirror_gain (the layer's slice_gains) into the same neuron input a<j>; the sense "
                   "sources, port currents and tile columns are numbered by slice column k",
    "neurons": "F mirrors of gain +mirror_gain (G+) and -mirror_gain (G-) drive I_in = current_scale_a * (W x + b) "
               "into the thermal MTJ neuron N<j> (p = a<j>, n = 0; draw terminal u: the shared 0.5 V source Vu in the "
               "median mode, or in the stochastic mode its own source Vu<j> on node u<j>, a 0.5 V placeholder that "
               "simulate replaces by a PWL "
               "holding the recorded draw of each step, see the manifest's firing), with network drive "
               "'bounded' through the drive stage ND<j> (module ipnet_neuron_drive, model drv: input b<j>, output "
               "a<j>; no current for I_in < 0, a smooth ceiling i_max at which a fired MTJ takes the supply "
               "minus the headroom, device card section 'drive'); the shared "
               "PULSE source Vrst resets the magnetic state at the end of every step; spike = v(st<j>) > 0.5 "
               "at t = s t_step + read_delay_s",
    "wires": "with r_wire_ohm > 0 every row (driven at the left, one segment before each cell) and every physical "
             "column (one segment below each cell into its sense source) has wire segments; wire_model 'reduced' "
             "(default) writes each tile as its exact port equivalent (Schur complement of the tile's resistor "
             "network incl. r_driver_ohm: Rep/Rem<row>_<col> row source -> column end, Rrr<a>_<b> row <-> row; "
             "same port currents, wire and cell dissipation no longer separable), 'ladder' writes every segment "
             "(Rwr, Rwc, nodes w<row>_<c>, q<c>_<row>)",
    "ports": "ports/<unit>.npz: the unit's crossbar as its exact port model, row_col_s [rows, 2 cols] (S, row "
             "source -> column end at 0 V, r_driver_ohm inside), couplings between rows of a tile; 'simulate' "
             "(crossbar 'ports', the default) replaces the tiles and row drivers by PWL current sources "
             "Ip<tile>_<j>/Im<tile>_<j> into the same sense sources and computes the row sources' energy from it "
             "(see ipnet_cosim.netlist_gen.ports); crossbar 'netlist' simulates netlists/<unit>.cir instead",
    "readout": "a crossbar without neurons; class score = g Q / (k v_read t_pulse T), Q the charge of "
               "i(Vsp) - i(Vsm) summed over row tiles",
    "stimulus": "netlists carry 0 V placeholder row drivers (lines starting with Vx); a stimulus file's lines "
                "replace them (ipnet-cosim simulate does this); run by hand with "
                "'cd EXPORT && ngspice netlists/<unit>.cir' after the replacement",
}


def load_samples(data_config: dict, indices: Sequence[int],
                 noise: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Frames ``[n, T, C, H, W]`` (uint8) and labels of test-set samples ``indices``; with ``noise`` (a
    :class:`~ipnet_cosim.models.data.noise.NoiseSetting` table plus ``seed``) of the noisy test set."""
    from ipnet_cosim.models.datasets import DataConfig, load_dataset, load_noisy_test
    data = DataConfig.from_dict(data_config)
    if noise is None:
        _, test = load_dataset(data)
    else:
        from ipnet_cosim.models.data.noise import NoiseSetting
        test = load_noisy_test(data, *NoiseSetting.from_record(noise))
    n = test.frames.shape[0]
    bad = [i for i in indices if not 0 <= i < n]
    if bad:
        raise ConfigError(f"sample index {bad[0]} is outside the test set (0..{n - 1})")
    frames = test.frames[list(indices)]
    if frames.size and frames.max() > 1:
        raise ConfigError("the test frames hold event counts > 1; the crossbar drives one read pulse per spike, "
                          "so bin the events as binary frames (events_to_frames(binary=True))")
    return frames, test.labels[list(indices)]


def _noise_table(noise: Any, noise_seed: int) -> dict[str, Any] | None:
    """The manifest's record of the stimulus noise (None for clean samples)."""
    from ipnet_cosim.models.data.noise import NoiseSetting
    if noise is None or (isinstance(noise, NoiseSetting) and noise.level == 0):
        return None
    if not isinstance(noise, NoiseSetting):
        raise ConfigError(f"noise must be a NoiseSetting (or None), got {type(noise).__name__}")
    if isinstance(noise_seed, bool) or not isinstance(noise_seed, (int, np.integer)) or noise_seed < 0:
        raise ConfigError(f"noise seed ({noise_seed!r}) must be an integer >= 0")
    return {**noise.to_dict(), "seed": int(noise_seed)}


def parse_samples(text: str | Sequence[int]) -> list[int]:
    """'0:10' / '3,5,8' / [1, 2] -> sorted unique indices."""
    if not isinstance(text, str):
        values = [int(v) for v in text]
    else:
        values = []
        for part in text.split(","):
            part = part.strip()
            if not part:
                continue
            try:
                if ":" in part:
                    a, b = part.split(":", 1)
                    values += list(range(int(a or 0), int(b)))
                else:
                    values.append(int(part))
            except ValueError:
                raise ConfigError(f"samples '{text}': use indices like '0:10' or '3,5,8'") from None
    if not values or min(values) < 0:
        raise ConfigError(f"samples '{text}': need at least one index >= 0")
    return sorted(set(values))


def stimulus_lines(unit: Unit, lm: LayerMatrix, options: MappingOptions, card, spikes: np.ndarray) -> list[str]:
    """The netlist lines of a unit's row drivers for input spikes ``[T, inputs]``."""
    lines: list[str] = []
    for e in driver_sources(unit, lm, options, card, spikes):
        if e.name.startswith("Vx"):
            lines += format_element(e)
    return lines


def replace_drivers(netlist: str, stimulus: Sequence[str], extra_saves: Sequence[str] = (),
                    draws: Sequence[str] | None = None) -> str:
    """Replace the ``Vx*`` placeholder lines (and their ``+`` continuations) by ``stimulus`` and, with ``draws``
    (a stochastic export), the ``Vu*`` draw placeholders by ``draws``; drop a ``.control`` block (the runner
    loads the OSDI library itself); add ``.save`` lines."""
    out: list[str] = []
    skipping = in_control = False
    inserted = False
    draws_inserted = draws is None
    for line in netlist.splitlines():
        if in_control:
            in_control = not line.lower().startswith(".endc")
            continue
        if line.lower().startswith(".control"):
            in_control = True
            continue
        if skipping and line.startswith("+"):
            continue
        skipping = False
        if line[:2].lower() == "vx":
            skipping = True
            if not inserted:
                out += list(stimulus)
                inserted = True
            continue
        if draws is not None and line[:2].lower() == "vu":
            skipping = True
            if not draws_inserted:
                out += list(draws)
                draws_inserted = True
            continue
        if line.lower() == ".end":
            if extra_saves:
                out.append(".save " + " ".join(extra_saves))
        out.append(line)
    if not inserted:
        raise ConfigError("netlist has no Vx* row-driver lines to replace; was it exported by ipnet-cosim?")
    if not draws_inserted:
        raise ConfigError("netlist has no Vu* draw lines to replace; was it exported with --firing stochastic?")
    return "\n".join(out) + "\n"


def check_read_voltage(card, synapse) -> None:
    """Refuse a device card whose read voltage exceeds the synapse card's limit (ConfigError naming both)."""
    t = card.timing
    if t.v_read_v > synapse.v_read_max_v:
        raise ConfigError(f"the read voltage timing.v_read_v = {t.v_read_v:g} V of the device card exceeds the synapse "
                          f"card '{synapse.name}' limit v_read_max_v = {synapse.v_read_max_v:g} V "
                          f"({synapse.sources['v_read_max_v']}); lower v_read_v in the device card or choose another "
                          f"synapse card")


class _Plan:
    """Everything an export writes, built and validated in memory."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.copies: dict[str, Path] = {}


def plan_export(checkpoint: str | Path, *, samples: Sequence[int] = tuple(range(10)),
                options: MappingOptions = MappingOptions(),
                progress: Callable[[str], None] | None = None,
                notify: Callable[[str], None] | None = None,
                noise: Any = None, noise_seed: int = 0,
                firing: Firing = Firing(), stimulus: str | Path | None = None) -> tuple[ExportManifest, _Plan]:
    """Check everything and build the manifest and file contents (no file is written); ``notify`` receives
    warnings (default: ``progress``); ``noise`` (a :class:`~ipnet_cosim.models.data.noise.NoiseSetting`) exports the
    samples of the test set with that sensor noise (``noise_seed``), recorded in the manifest; ``firing``: how the
    neurons fire (stochastic: every neuron gets its own draw source ``Vu<j>``, a 0.5 V placeholder in the netlists
    that ``simulate`` replaces by the recorded draws of the sample and draw it runs); ``stimulus``: your own input
    spikes (:mod:`~ipnet_cosim.models.data.stimulus`) instead of the checkpoint's data set: ``samples`` index the
    file, and the manifest's data config names it (with its sha256), so that ``simulate`` and ``report`` read it."""
    import torch
    from ipnet_cosim import models as _models
    from ipnet_cosim.device.compiler import compile_va, neuron_va_path, openvaf_version
    from ipnet_cosim.models.checkpoint import load_checkpoint, resolve_checkpoint_path

    say = progress or (lambda msg: None)
    if not isinstance(options, MappingOptions):
        raise ConfigError("options must be MappingOptions")
    if not isinstance(firing, Firing):
        raise ConfigError("firing must be a Firing (ipnet_cosim.device.draws)")
    ck_path = resolve_checkpoint_path(checkpoint)
    ck = load_checkpoint(ck_path)
    arch = ck.network_config.arch
    if arch not in MAPPABLE_ARCHS:
        raise CheckpointError(f"checkpoint {ck_path} holds a '{arch}' network; only {', '.join(MAPPABLE_ARCHS)} "
                              f"networks are built from MTJ neurons and crossbars (the baselines keep their "
                              f"memory in digital state). Export an IPNet checkpoint")
    model = ck.model.eval()
    views = network_layers(model)
    options.check_gain_trims(len(views) - 1)
    from ipnet_cosim.netlist_gen.recorded_hardware import hardware_mismatch
    mismatch = hardware_mismatch(ck.raw, options)
    if mismatch:
        (notify or say)(mismatch)
    card, fast_card = model.card, model.fast_card
    t = card.timing
    syn = options.synapse
    check_read_voltage(card, syn)
    overrides = options.synapse_overrides()
    if overrides:
        say(f"synapse card '{syn.name}' ({syn.technology_label}) with overridden {', '.join(overrides)}")
    noise_table = _noise_table(noise, noise_seed)
    data_config = ck.data_config if stimulus is None else stimulus_data(ck, stimulus, noise_table)
    frames, labels = load_samples(data_config, samples, noise_table)
    if noise_table is not None:
        say(f"stimulus: test samples with {noise_table['kind']} = {noise_table['level']:g} ({noise_table['unit']}), "
            f"noise seed {noise_seed}")
    n_steps = int(frames.shape[1])
    say("mapping layers")
    plan = _Plan()
    layers_info, units_info = [], []
    scale = ck.network_config.current_scale_a
    bounded = ck.network_config.drive == "bounded"
    for view in views:
        lm = LAYER_MAPPINGS[view.type](view)
        if view.index == 0:
            lm0 = lm
        units = layer_units(view.index, lm, options)
        gmap0 = None     # the ideal map of position 0 (k and mirror gain are shared by all positions)
        n_pos = lm.gather.shape[0]
        gmin, gmax = np.inf, -np.inf
        for p in range(n_pos):
            gmap = conductances(lm, view.index, p, v_read_v=t.v_read_v, current_scale_a=scale, options=options,
                                name=view.name)
            gmap0 = gmap if gmap0 is None else gmap0
            gmin = min(gmin, float(min(gmap.g_plus_s.min(), gmap.g_minus_s.min())))
            gmax = max(gmax, float(max(gmap.g_plus_s.max(), gmap.g_minus_s.max())))
            for unit in (u for u in units if u.position == p):
                title = (f"ipnet-cosim unit {unit.name}: {view.name} ({view.type}, {view.unit}) position {p}, "
                         f"weight columns {unit.cols[0]}..{unit.cols[1] - 1}")
                sl = options.conductance.slices
                c0, c1 = unit.cols[0] * sl, unit.cols[1] * sl      # slice columns of the unit's weight columns
                tiles = tuple(tile_ports(gmap.g_plus_s[r0:r1, c0:c1], gmap.g_minus_s[r0:r1, c0:c1], options)
                              for r0, r1 in unit.row_blocks)
                circuit = unit_circuit(unit, lm, gmap, unit_kind=view.unit, card=card, fast_card=fast_card,
                                       n_steps=n_steps, options=options, title=title, reduced=tiles,
                                       drive=bounded, stochastic=firing.stochastic)
                plan.files[ExportFiles.ports(unit.name)] = UnitPorts.from_tiles(tiles, unit.row_blocks).to_bytes()
                osdi_line = ExportFiles.OSDI if view.unit != "integrate" else None
                text = format_ngspice(circuit, osdi_path=osdi_line, control=("run",) if osdi_line else ())
                plan.files[ExportFiles.netlist(unit.name)] = text.encode()
                units_info.append(UnitRecord(
                    name=unit.name, layer=view.index, position=p, col_block=unit.col_block,
                    weight_columns=(unit.cols[0], unit.cols[1]), netlist=ExportFiles.netlist(unit.name),
                    ports=ExportFiles.ports(unit.name),
                    tiles=tuple(TileRecord(f"xb_{unit.name}_r{r}".lower(), (a, b), (b - a, 2 * (c1 - c0)))
                                for r, (a, b) in enumerate(unit.row_blocks)),
                    rows=tuple(int(v) for v in lm.gather[p]),
                    neurons=tuple(int(v) for v in lm.out_index[p, unit.cols[0]:unit.cols[1]]),
                    sha256=hashlib.sha256(text.encode()).hexdigest()))
        rows, cols = lm.matrix.shape
        assert gmap0 is not None                    # (a layer has at least one position)
        layers_info.append(LayerRecord(
            index=view.index, name=view.name, type=view.type, mapping=LAYER_MAPPINGS[view.type].__name__,
            unit=view.unit, model={"heat": HEAT_MODEL, "memoryless": FAST_MODEL}.get(view.unit),
            in_shape=tuple(view.in_shape), out_shape=tuple(view.out_shape), matrix_shape=(rows, cols),
            positions=n_pos, layout=lm.layout,
            units=sum(1 for u in units_info if u.layer == view.index),
            tiles=sum(len(u.tiles) for u in units_info if u.layer == view.index),
            max_abs_weight=float(np.abs(lm.matrix).max()), k_s=gmap0.k_s, mirror_gain=gmap0.mirror_gain,
            conductance_range_s=(gmin, gmax), devices=int(2 * options.conductance.slices * rows * cols * n_pos),
            slice_gains=gmap0.slice_gains))
        say(f"{view.name}: {layers_info[-1].units} units, {layers_info[-1].tiles} tiles")
    # stimulus of layer 0 for the chosen samples
    for k, idx in enumerate(samples):
        spikes = frames[k].reshape(n_steps, -1).astype(np.float64)
        for unit in layer_units(0, lm0, options):
            lines = stimulus_lines(unit, lm0, options, card, spikes)
            plan.files[ExportFiles.stimulus(idx, unit.name)] = ("\n".join(lines) + "\n").encode()
    import io
    buf = io.BytesIO()
    np.savez_compressed(buf, frames=frames.astype(np.uint8), labels=np.asarray(labels, dtype=np.int64),
                        indices=np.asarray(samples, dtype=np.int64))
    plan.files[ExportFiles.SAMPLES] = buf.getvalue()
    osdi = compile_va()
    plan.copies[ExportFiles.OSDI] = Path(osdi)
    plan.copies[ExportFiles.VA] = neuron_va_path()
    plan.copies[ExportFiles.CHECKPOINT] = ck_path
    summary = ck_path.with_name("checkpoint.json")
    if summary.is_file():
        try:
            summary_data = json.loads(summary.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"{summary} is not valid JSON ({exc}); delete it (checkpoint.pt holds "
                                  f"everything) or save the checkpoint again") from exc
        if not isinstance(summary_data, dict):
            raise CheckpointError(f"{summary} does not hold a table; delete it or save the checkpoint again")
        check_checkpoint_summary(summary_data, ck.raw, str(summary))
        plan.copies[ExportFiles.CHECKPOINT_SUMMARY] = summary
    manifest = ExportManifest(
        package_version=_models.__version__,
        checkpoint=CheckpointRecord(ExportFiles.CHECKPOINT, sha256_file(ck_path), ck.epoch, ck.metrics),
        network_config=ck.network_config.to_dict(), data_config=data_config,
        class_names=tuple(ck.class_names), device_card=card.to_dict(), fast_card=fast_card.to_dict(),
        mapping_options=options.to_dict(), interface=INTERFACE,
        timing=TimingRecord(n_steps=n_steps, t_step_s=t.t_step_s, t_pulse_s=t.t_pulse_s, t_rise_s=t.t_rise_s,
                            t_fall_s=t.t_fall_s,
                            read_delay_s=read_delay_s(card), v_read_v=t.v_read_v, current_scale_a=scale,
                            readout_gain=ck.network_config.readout_gain),
        drive={"kind": ck.network_config.drive,
               **({"model": "drv (module ipnet_neuron_drive)", "i_max_a": card.drive_i_max_a,
                   "knee": card.drive.knee, "v_compliance_v": card.drive.v_compliance_v()} if bounded else
                  {"model": None, "note": "ideal mirror: signed, unbounded current into the MTJ (not realisable)"})},
        device=DeviceRecord(va=ExportFiles.VA, osdi=ExportFiles.OSDI, osdi_sha256=sha256_file(Path(osdi)),
                            openvaf=openvaf_version(),
                            models={HEAT_MODEL: "heat-memory neurons (device card)",
                                    FAST_MODEL: f"memoryless neurons (tau_th = "
                                                f"{ck.network_config.memoryless_tau_th_s:g} s)"},
                            va_sha256=sha256_file(neuron_va_path())),
        samples=SamplesRecord("test", tuple(int(v) for v in samples), tuple(int(v) for v in labels),
                              ExportFiles.SAMPLES, noise_table),
        gather_codes={"pad": PAD, "bias": BIAS},
        layers=tuple(layers_info), units=tuple(units_info), torch_version=torch.__version__,
        firing=firing.to_dict())
    manifest._check("the export being built")
    return manifest, plan


def stimulus_data(ck, stimulus: str | Path, noise_table: dict | None) -> dict:
    """The data config of a stimulus file for checkpoint ``ck`` (its frames must fit the network's input)."""
    from ipnet_cosim.models.datasets import stimulus_config
    if noise_table is not None:
        raise ConfigError("--noise adds sensor noise to a data set's test samples; with --stimulus the spikes are "
                          "yours: add the noise to them before writing the file")
    cfg = stimulus_config(stimulus, n_classes=len(ck.class_names))
    net = ck.network_config
    if (cfg.channels, cfg.height, cfg.width) != (net.in_channels, net.height, net.width):
        raise ConfigError(f"stimulus {stimulus}: frames of {cfg.channels} x {cfg.height} x {cfg.width}, the network "
                          f"takes {net.in_channels} x {net.height} x {net.width}; write the spikes in the network's "
                          f"input shape")
    return cfg.to_dict()


def export_network(checkpoint: str | Path, out_dir: str | Path, *, samples: Sequence[int] = tuple(range(10)),
                   options: MappingOptions = MappingOptions(),
                   progress: Callable[[str], None] | None = None,
                   notify: Callable[[str], None] | None = None,
                   noise: Any = None, noise_seed: int = 0, firing: Firing = Firing(),
                   stimulus: str | Path | None = None) -> dict[str, Any]:
    """Export a checkpoint (see the module docstring; ``noise``, ``firing``, ``stimulus``: :func:`plan_export`).
    Returns the manifest (as written, a table)."""
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"{out} exists and is not empty; export into a new folder (an earlier export is never "
                          f"overwritten)")
    manifest, plan = plan_export(checkpoint, samples=samples, options=options, progress=progress, notify=notify,
                                 noise=noise, noise_seed=noise_seed, firing=firing, stimulus=stimulus)
    tmp = out.with_name(out.name + ".export-tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        for rel, data in plan.files.items():
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        for rel, src in plan.copies.items():
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, path)
        write_json(tmp / MANIFEST, manifest.to_dict())
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest.to_dict()


def export_once(checkpoint: str | Path, out_dir: str | Path, *, samples: Sequence[int],
                options: MappingOptions = MappingOptions(), progress: Callable[[str], None] | None = None,
                notify: Callable[[str], None] | None = None, noise: Any = None, noise_seed: int = 0,
                firing: Firing = Firing(), stimulus: str | Path | None = None) -> None:
    """Export, or keep the export already in ``out_dir`` when it is of the same checkpoint (hash), samples, noise,
    firing and mapping options (a resumable pipeline's step); an export of anything else there is refused, never
    replaced."""
    from ipnet_cosim.models.checkpoint import resolve_checkpoint_path
    from ipnet_cosim.netlist_gen.contract import read_export
    out = Path(out_dir)
    if not (out / MANIFEST).is_file():
        export_network(checkpoint, out, samples=samples, options=options, progress=progress, notify=notify,
                       noise=noise, noise_seed=noise_seed, firing=firing, stimulus=stimulus)
        return
    made = read_export(out).manifest
    differs = [what for what, same in (
        ("checkpoint", made.checkpoint.sha256 == sha256_file(resolve_checkpoint_path(checkpoint))),
        ("samples", list(made.samples.indices) == [int(s) for s in samples]),
        ("sensor noise", made.samples.noise == _noise_table(noise, noise_seed)),
        ("firing", made.firing_mode() == firing),
        ("stimulus", made.data_config.get("stimulus_sha256") == (None if stimulus is None else
                                                                  sha256_file(Path(stimulus)))),
        ("mapping options", made.mapping_options == options.to_dict())) if not same]
    if differs:
        raise ConfigError(f"{out} holds an export that differs in its {' and '.join(differs)}; delete it or choose "
                          f"another "
                          f"folder (an earlier export is never overwritten)")

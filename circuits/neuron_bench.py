"""Test bench for thermal MTJ neurons: current-pulse drive, reset, random draws, and spike read-out.

:class:`NeuronBench` is plain data; :func:`neuron_bench_circuit` builds it as a circuit IR value and
:func:`format_neuron_bench` writes that with the ngspice writer (deterministic text); :func:`read_bench` turns
the simulated waveforms into per-step spikes and temperatures, sampled at the
same instants the PyTorch neuron reports (spike read before the reset, heat at
the end of the step).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Sequence

import numpy as np

from ipnet_cosim.device.card import DeviceCard
from ipnet_cosim.device.compiler import DRIVE_MODULE, NEURON_MODULE
from ipnet_cosim.device.errors import ConfigError
from ipnet_cosim.device.units import spice_number as num

DrawMode = Literal["deterministic", "stochastic"]
MODEL_NAME = "mtjn"
DRIVE_MODEL_NAME = "drv"


@dataclass(frozen=True)
class NeuronBench:
    """N neurons, each driven by its own sequence of pulse currents, one pulse per step.

    Attributes:
        currents_a: [N][steps] pulse currents in A.
        card: device card (model parameters and step timing).
        mode: "deterministic" (u = 1/2) or "stochastic" (one trrandom draw per neuron per step).
        t_amb_k: per-neuron ambient temperature override in K (None: the card's).
        reltol: ngspice relative tolerance.
        max_step_s: largest transient time step (None: the card's ``max_time_step_s``).
        title: netlist title line.
        save_hazard: also save each neuron's internal hazard node (``n<k>#h``).
        drive: the currents are the inputs of the card's drive stage (``ipnet_neuron_drive``: no
            current for negative inputs, a smooth ceiling), whose output feeds the MTJ; False: the
            currents go straight into the MTJ (an ideal current source).
    """

    currents_a: tuple[tuple[float, ...], ...]
    card: DeviceCard = field(default_factory=DeviceCard)
    mode: DrawMode = "deterministic"
    t_amb_k: tuple[float, ...] | None = None
    reltol: float = 1e-4
    max_step_s: float | None = None
    title: str = "ipnet-cosim thermal MTJ neuron bench"
    save_hazard: bool = False
    drive: bool = False

    def __post_init__(self) -> None:
        if not self.currents_a or not self.currents_a[0]:
            raise ConfigError("NeuronBench needs at least one neuron and one step")
        steps = len(self.currents_a[0])
        if any(len(seq) != steps for seq in self.currents_a):
            raise ConfigError("NeuronBench: every neuron needs the same number of steps")
        if not np.all(np.isfinite(np.asarray(self.currents_a, dtype=float))):
            raise ConfigError("NeuronBench: a pulse current is NaN or infinite")
        if self.mode not in ("deterministic", "stochastic"):
            raise ConfigError(f"NeuronBench mode '{self.mode}' is unknown; use deterministic or stochastic")
        if self.t_amb_k is not None and len(self.t_amb_k) != len(self.currents_a):
            raise ConfigError("NeuronBench: t_amb_k needs one value per neuron")

    @classmethod
    def from_array(cls, currents_a: np.ndarray | Sequence[Sequence[float]], **kwargs) -> "NeuronBench":
        """Build from an [N, steps] array of currents (A)."""
        arr = np.atleast_2d(np.asarray(currents_a, dtype=float))
        return cls(currents_a=tuple(tuple(float(x) for x in row) for row in arr), **kwargs)

    @property
    def n_neurons(self) -> int:
        return len(self.currents_a)

    @property
    def n_steps(self) -> int:
        return len(self.currents_a[0])

    @property
    def t_stop_s(self) -> float:
        return self.n_steps * self.card.timing.t_step_s

    def read_times_s(self) -> np.ndarray:
        """Instant of each step at which the spike is read (just before the reset)."""
        t = self.card.timing
        return np.arange(self.n_steps) * t.t_step_s + t.t_read_s

    def step_end_times_s(self) -> np.ndarray:
        """End of each step (where the PyTorch neuron reports the carried temperature)."""
        return (np.arange(self.n_steps) + 1) * self.card.timing.t_step_s


def neuron_bench_circuit(bench: NeuronBench):
    """The bench as a circuit IR value (:class:`~ipnet_cosim.circuits.ir.Circuit`).

    Node names per neuron k: ``a<k>`` (MTJ top), ``u<k>`` (draw), ``th<k>`` (temperature
    rise, V = K), ``st<k>`` (state, 0 = rest, 1 = fired); ``rst`` is the shared reset line; with the
    drive stage ``b<k>`` is its input and ``ND<k>`` the stage.
    """
    from ipnet_cosim.circuits.ir import (Circuit, CurrentSource, MTJNeuronInstance, ModelCard, NeuronDriveInstance,
                                            PulseSource, RandomSource, Save, SolverOptions, Transient, VoltageSource)
    card, t = bench.card, bench.card.timing
    # Verilog-A parameters are model parameters: one model card per ambient temperature
    if bench.t_amb_k is None:
        models = [ModelCard(MODEL_NAME, NEURON_MODULE, card.mtj.model_params())]
        model_of = [MODEL_NAME] * bench.n_neurons
    else:
        temps = list(dict.fromkeys(bench.t_amb_k))          # distinct, in first-use order
        models = [ModelCard(f"{MODEL_NAME}_{j}", NEURON_MODULE, card.replace(t_amb_k=temp).mtj.model_params())
                  for j, temp in enumerate(temps)]            # card.replace validates like any card
        model_of = [f"{MODEL_NAME}_{temps.index(temp)}" for temp in bench.t_amb_k]
    if bench.drive:
        models.append(ModelCard(DRIVE_MODEL_NAME, DRIVE_MODULE, card.drive.model_params(card.mtj)))
    els: list = []
    saves: list = []
    for k, seq in enumerate(bench.currents_a):
        els.append(MTJNeuronInstance(f"N{k}", f"a{k}", "0", f"u{k}", "rst", f"th{k}", f"st{k}", model_of[k]))
        # current flows from node 0 through the source into a<k> (or the drive's input b<k>), then
        # through the MTJ a<k> -> 0
        into = f"b{k}" if bench.drive else f"a{k}"
        els.append(CurrentSource(f"I{k}", "0", into, pwl=tuple((float(x), float(y)) for x, y in t.pulse_pwl(seq))))
        if bench.drive:
            els.append(NeuronDriveInstance(f"ND{k}", f"b{k}", f"a{k}", DRIVE_MODEL_NAME))
        if bench.mode == "deterministic":
            els.append(VoltageSource(f"Vu{k}", f"u{k}", "0", dc_v=0.5))
        else:
            els.append(RandomSource(f"Vu{k}", f"u{k}", "0", 0.0, 1.0, t.t_step_s))
        saves += [Save.v(f"th{k}"), Save.v(f"st{k}"), Save.v(f"a{k}")]
        if bench.save_hazard:
            saves.append(Save.state(f"N{k}", "h"))
    els.append(PulseSource("Vrst", "rst", "0", 0.0, t.v_reset_v, t.t_read_s, t.t_rise_s, t.t_fall_s,
                           t.t_reset_s - t.t_rise_s, t.t_step_s))
    max_step = bench.max_step_s if bench.max_step_s is not None else card.max_time_step_s
    return Circuit(bench.title, tuple(els), models=tuple(models), saves=tuple(saves),
                   comments=(f"{bench.n_neurons} neuron(s), {bench.n_steps} step(s) of {num(t.t_step_s)} s, "
                             f"mode {bench.mode}",),
                   tran=Transient(max_step, bench.t_stop_s, max_step), options=SolverOptions(reltol=bench.reltol))


def format_neuron_bench(bench: NeuronBench) -> str:
    """The bench as an ngspice netlist (load the compiled model with ``osdi`` before running it)."""
    from ipnet_cosim.circuits.ngspice import format_ngspice
    return format_ngspice(neuron_bench_circuit(bench))


@dataclass(frozen=True)
class BenchResult:
    """Per-step read-out of a bench simulation.

    Attributes:
        spikes: [N, steps] bool, fired before the reset of that step.
        t_rise_end_k: [N, steps] temperature rise above ambient at the end of each step, K.
        t_rise_peak_k: [N, steps] temperature rise at the end of each pulse, K.
        hazard: [N, steps] hazard H at the read instant (None unless the bench saved it);
            1 - exp(-H) is the switching probability of that step.
    """

    spikes: np.ndarray
    t_rise_end_k: np.ndarray
    t_rise_peak_k: np.ndarray
    hazard: np.ndarray | None = None


def read_bench(bench: NeuronBench, waves) -> BenchResult:
    """Sample the waveforms of a bench run at the read instants of each step."""
    t_read = bench.read_times_s()
    t_end = bench.step_end_times_s()
    t_peak = np.arange(bench.n_steps) * bench.card.timing.t_step_s + bench.card.timing.t_pulse_s
    spikes = np.stack([waves.at(f"st{k}", t_read) > 0.5 for k in range(bench.n_neurons)])
    rise_end = np.stack([waves.at(f"th{k}", t_end) for k in range(bench.n_neurons)])
    rise_peak = np.stack([waves.at(f"th{k}", t_peak) for k in range(bench.n_neurons)])
    hazard = None
    if bench.save_hazard:
        hazard = np.stack([waves.at(f"n{k}#h", t_read) for k in range(bench.n_neurons)])
    return BenchResult(spikes=spikes, t_rise_end_k=rise_end, t_rise_peak_k=rise_peak, hazard=hazard)


def simulate_bench(bench: NeuronBench, seed: int | None = None, osdi: str | Path | None = None):
    """Compile (cached) the neuron model, simulate the bench in ngspice, and read it out.

    Returns:
        (BenchResult, Waveforms)
    """
    from ipnet_cosim.circuits.runner import run_netlist
    from ipnet_cosim.device.compiler import compile_va
    lib = osdi if osdi is not None else compile_va()
    waves = run_netlist(format_neuron_bench(bench), [lib], seed=seed)
    return read_bench(bench, waves), waves

"""Device card: the one definition of the thermal MTJ neuron's parameters.

The same :class:`DeviceCard` feeds the Verilog-A ``.model`` card
(:meth:`MTJParams.model_card`), the PyTorch neuron
(``ipnet_cosim.models.neuron``) and, later, the energy and area model. Every
field carries its SI unit in its name and, in its metadata, the unit string,
a description, the range that validation enforces and the source of the
default. A test parses ``thermal_mtj_neuron.va`` and proves that its
``parameter`` list agrees with :class:`MTJParams` (names, defaults, units).

Defaults are literature-typical values for a perpendicular CoFeB/MgO MTJ of
40 nm diameter; the IPNet paper (arXiv 2512.15829) does not publish its device
parameters, so every default here is *assumed* and says why.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from ipnet_cosim.device.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np

ASSUMED = "assumed"


def _param(default: float, unit: str, desc: str, lo: float, hi: float, source: str,
           lo_open: bool = False) -> Any:
    """A card field with its unit, description, allowed range and provenance."""
    return field(default=default, metadata={
        "unit": unit, "desc": desc, "lo": lo, "hi": hi, "lo_open": lo_open, "source": source})


@dataclass(frozen=True)
class MTJParams:
    """Parameters of the thermal MTJ neuron compact model (Verilog-A names, SI units).

    Equations (implemented in ``thermal_mtj_neuron.va`` and
    ``ipnet_cosim.models.neuron``; T is the junction temperature, m the
    magnetic state, 0 = parallel (rest), 1 = antiparallel (fired))::

        A        = pi d^2 / 4,      R_P = RA / A
        R(V, m)  = R_P (1 + m TMR0 / (1 + V^2 / Vh^2))
        C_th dT/dt = V I - (T - T_amb) / R_th
        Ms(T)/Ms(T0) = ((1 - T/Tc) / (1 - T0/Tc))^beta
        Delta(T) = Delta0 (T0/T) (Ms(T)/Ms(T0))^2
        Ic0(T)   = Ic0 (Ms(T)/Ms(T0))^2
        G(I, T)  = f0 exp(min(-Delta(T) (1 - I/Ic0(T)), E_max))
        dH/dt    = G - H / tau_leak - [reset] H / tau_reset
        fired    <=>  H >= -ln(u)      (u: the random draw, 1/2 in deterministic mode; -ln u >= min_threshold)
        m(t)     = x^2 (3 - 2x),  x = clip((t - t_c) / t_switch, 0, 1),  t_c: when H reaches -ln(u)

    The hazard H is the integral of the switching rate since the last reset;
    the switching probability of a pulse is 1 - exp(-H). Once it fires, the free layer reverses over
    t_switch (the resistance moves from R_P to R_AP); the reset returns it to P.
    """

    diameter_m: float = _param(40e-9, "m", "MTJ pillar diameter (circular)", 5e-9, 1e-6,
                               "assumed; 40 nm is typical of published pMTJ compact models", lo_open=True)
    ra_ohm_m2: float = _param(3e-12, "ohm*m^2", "resistance-area product of the parallel state",
                              1e-14, 1e-9, "assumed; 3 ohm um^2, the low end of CoFeB/MgO pMTJs switched by "
                              "spin-transfer torque (~2-10 ohm um^2; 7 ohm um^2 in the 2018 breakdown study of "
                              "limits.v_breakdown_v). Re-chosen from 5 ohm um^2 for the bounded drive: the MTJ may "
                              "see at most drive.v_dd_v - drive.v_headroom_v (0.75 V), and at 5 ohm um^2 a fired "
                              "(antiparallel) junction reaches that at 1.01x the cold firing threshold, which leaves "
                              "no room above threshold for the heat memory; at 3 ohm um^2 the drive's ceiling is "
                              "1.66x the threshold (threshold voltage ~0.35 V)", lo_open=True)
    tmr0: float = _param(1.0, "1", "tunnel magnetoresistance ratio at zero bias", 0.0, 10.0,
                         "assumed; 100 % within the 70-150 % of published pMTJs", lo_open=True)
    vh_v: float = _param(0.5, "V", "bias at which TMR falls to half of TMR0", 0.01, 5.0,
                         "assumed; 0.5 V, typical of published pMTJ compact models")
    delta0: float = _param(40.0, "1", "thermal stability factor E_b/(k_B T0) at T0", 1.0, 200.0,
                           "assumed; 40, a volatile-to-retentive pMTJ")
    t0_k: float = _param(300.0, "K", "reference temperature of delta0 and ic0_a", 1.0, 2000.0,
                         "assumed; room temperature")
    f0_hz: float = _param(1e9, "Hz", "attempt frequency of thermally activated switching",
                          1e6, 1e13, "assumed; 1 GHz, the usual Neel-Brown attempt frequency")
    ic0_a: float = _param(150e-6, "A", "critical switching current at T0", 1e-7, 1e-2,
                          "assumed; 11.9 MA/cm^2 at 40 nm; with ra_ohm_m2 the cold threshold (~145 uA) lies near 0.35 "
                          "V",
                          lo_open=True)
    tc_k: float = _param(800.0, "K", "Curie temperature of the free layer (no magnetic state to switch above "
                         "it: an operating limit, see OperatingLimits)", 300.0, 2000.0,
                         "assumed; thin CoFeB free layers are reported between ~700 K and ~1100 K")
    ms_beta: float = _param(0.75, "1", "exponent of Ms(T) = Ms0 (1 - T/Tc)^beta", 0.1, 3.0,
                            "assumed; gives an Ms drop of ~14 % from 300 K to 400 K")
    r_th_k_per_w: float = _param(1e6, "K/W", "thermal resistance junction-to-ambient", 1e3, 1e9,
                                 "assumed; upper end of the 1e5-1e6 K/W of nanopillars", lo_open=True)
    c_th_j_per_k: float = _param(3e-15, "J/K", "thermal capacitance of the junction", 1e-20, 1e-9,
                                 "assumed; with r_th gives tau_th = 3 ns", lo_open=True)
    t_amb_k: float = _param(300.0, "K", "ambient temperature", 1.0, 1000.0, "assumed; room temperature")
    sw_exp_max: float = _param(10.0, "1", "cap on the switching-rate exponent (rate <= f0 e^cap)",
                               0.0, 50.0, "model numerics; caps the rate at 2.2e13 1/s above Ic0")
    t_switch_s: float = _param(400e-12, "s", "duration of the magnetization reversal once the hazard crosses the "
                               "threshold: the state (and the resistance) moves from P to AP over it", 0.0, 1e-8,
                               "Devolder et al., Phys. Rev. Lett. 100, 057206 (2008): single-shot resistance traces of "
                               "MgO tunnel junctions under spin-torque pulses show a ns-scale stochastic incubation "
                               "delay, then a reproducible ~400 ps transition")
    fire_width: float = _param(0.05, "1", "width in ln(hazard) of the smooth step that starts the switching in the "
                               "compact model", 1e-4, 0.1, "model numerics; the reversal's progress integrates "
                               "(1 + tanh((ln H - ln(-ln u)) / fire_width)) / 2, symmetric about the crossing, so it "
                               "starts where the PyTorch twin's sharp crossing does to second order: measured < 0.3 ps "
                               "at 0.05 (0.01 ps at 0.01) on the default card, while a wider step lets the simulator "
                               "resolve the start in fewer, longer steps (2 fire_widths of ln H per step)",
                               lo_open=True)
    hazard_stop: float = _param(16.0, "1", "the compact model's hazard stops growing hazard_stop fire_widths past the "
                                "threshold (a fired neuron's hazard decides nothing more)", 8.0, 1e3,
                                "model numerics; keeps the hazard of a fired neuron near its threshold, so the reset "
                                "clears it as fast as an unfired one's")
    hazard_scale: float = _param(1e-11, "1", "scale of the hazard node's charge in the compact model", 1e-20, 1.0,
                                 "model numerics; the simulator's truncation-error control stops resolving a charge "
                                 "below ~reltol x chgtol (1e-14): at 1e-11 that is a hazard of ~1e-7 at reltol 1e-4, "
                                 "below the smallest threshold (min_threshold) by 1e3, so the nearly empty hazard "
                                 "after a reset and at the start of a pulse costs no time points", lo_open=True)
    switch_scale: float = _param(1e-14, "1", "scale of the switching-progress node's charge in the compact model",
                                 1e-20, 1.0, "model numerics; as hazard_scale, for the switching progress (0..1), "
                                 "whose ramp is linear in time (the trapezoidal rule is exact on it): measured "
                                 "(benchmarks/time_points.py) 1e-14 takes 9 % fewer time points than 1e-12 with the "
                                 "same hazards and heat within 0.02 K of the twin", lo_open=True)
    switch_steps: float = _param(8.0, "1", "time steps per t_switch_s while the junction reverses (the compact "
                                 "model bounds the step to t_switch_s / switch_steps then)", 1.0, 1e4,
                                 "model numerics; the power changes by a factor 1 + TMR over the reversal, and the "
                                 "simulator's trapezoidal rule integrates the heat to ~0.01 K with 8 steps per "
                                 "reversal "
                                 "(measured against the PyTorch twin; 100 ps steps leave ~0.1 K)")
    thermal_scale: float = _param(1e9, "1", "scale of the thermal node's equation in the compact model", 1.0, 1e15,
                                  "model numerics; the junction's heat C_th T (~1e-14 J on the default card) lies near "
                                  "the simulator's absolute charge tolerance (chgtol 1e-14); scaled by 1e9 it is held "
                                  "to the relative tolerance on any card. On the default card it changes neither the "
                                  "time points nor the agreement (benchmarks/time_points.py), so it costs nothing")
    tau_reset_s: float = _param(10e-12, "s", "time constant of the hazard reset while rst is high",
                                1e-15, 1e-6, "model numerics; 10 ps, short against the reset pulse",
                                lo_open=True)
    tau_leak_s: float = _param(1.0, "s", "hazard leak time constant (gives a DC solution)",
                               1e-3, 1e6, "model numerics; 1 s, negligible over a transient",
                               lo_open=True)
    v_rst_th_v: float = _param(0.5, "V", "logic threshold of the reset terminal", 0.01, 10.0,
                               "model numerics; half of the default reset level")
    min_threshold: float = _param(1e-4, "1", "smallest random firing threshold -ln(u): a draw u closer to 1 is "
                                  "clamped to exp(-min_threshold)", 1e-12, 0.1,
                                  "model numerics; a threshold below ~1e-4 is crossed within the femtoseconds of a "
                                  "current edge, where the switching is too stiff for the transient solver (seen as "
                                  "'timestep too small' in stochastic runs); it changes a firing probability only for "
                                  "pulses whose hazard stays below 1e-4", lo_open=True)

    # -- derived quantities -------------------------------------------------
    @property
    def area_m2(self) -> float:
        """Junction area pi d^2 / 4 in m^2."""
        return math.pi * self.diameter_m ** 2 / 4.0

    @property
    def r_p_ohm(self) -> float:
        """Parallel-state resistance RA / A in ohm."""
        return self.ra_ohm_m2 / self.area_m2

    @property
    def r_ap_ohm(self) -> float:
        """Antiparallel-state resistance at zero bias R_P (1 + TMR0) in ohm."""
        return self.r_p_ohm * (1.0 + self.tmr0)

    @property
    def tau_th_s(self) -> float:
        """Thermal time constant R_th C_th in s."""
        return self.r_th_k_per_w * self.c_th_j_per_k

    def model_params(self) -> tuple[tuple[str, float], ...]:
        """The Verilog-A model parameters of this set, ``((name, value), ...)`` in declared order (SI units):
        what the circuit IR's ``ModelCard`` carries to every simulator."""
        return tuple((f.name, float(getattr(self, f.name))) for f in fields(self))

    def model_card(self, name: str = "mtjn", module: str = "ipnet_mtj_neuron") -> str:
        """The ngspice ``.model`` line for this parameter set (one line, declared order)."""
        from ipnet_cosim.device.units import spice_number
        values = " ".join(f"{k}={spice_number(v)}" for k, v in self.model_params())
        return f".model {name} {module} {values}"


@dataclass(frozen=True)
class PulseTiming:
    """Timing and voltage levels of one network step (SI units).

    A network step k spans [k t_step, (k+1) t_step). The read pulse rises over t_rise from k t_step, holds its
    level until k t_step + t_pulse and falls over t_fall (the same trapezoid in both twins and in every netlist);
    the reset control rises over t_rise from the read time t_read = (k+1) t_step - t_reset - t_fall, holds, and
    has fallen over t_fall by (k+1) t_step. Spikes are read at t_read, before the reset.
    """

    t_pulse_s: float = _param(1e-9, "s", "width of the input current pulse", 1e-12, 1e-3,
                              "assumed; 1 ns, a third of tau_th", lo_open=True)
    t_step_s: float = _param(3e-9, "s", "period of one network step", 1e-12, 1e-3,
                             "assumed; 3 ns = tau_th, heat decays by e^-1 per step", lo_open=True)
    t_reset_s: float = _param(0.2e-9, "s", "width of the reset control pulse at the end of a step",
                              1e-13, 1e-3, "assumed", lo_open=True)
    t_rise_s: float = _param(20e-12, "s", "rise time of the stimulus edges (read pulses on the rows, hence the column "
                             "currents and the neuron drive, and the reset pulse), 0 to full level", 1e-15, 1e-6,
                             "assumed; 20 ps, about 1.5 FO4 delays of 28 nm CMOS (an FO4 delay is ~0.5 ns per um of "
                             "drawn gate length, Harris, Ho, Wei and Horowitz, 'The fanout-of-4 inverter delay "
                             "metric', "
                             "1997: ~14 ps at 28 nm), what a driver sized for its load (fanout ~4 per stage) puts out",
                             lo_open=True)
    t_fall_s: float = _param(20e-12, "s", "fall time of the stimulus edges (read pulses, neuron drive, reset), full "
                             "level to 0", 1e-15, 1e-6, "assumed; 20 ps, as t_rise_s", lo_open=True)
    v_read_v: float = _param(0.2, "V", "crossbar read voltage of an input spike", 0.0, 5.0,
                             "assumed; typical RRAM/MTJ crossbar read level", lo_open=True)
    v_reset_v: float = _param(1.0, "V", "level of the reset control pulse", 0.0, 10.0,
                              "assumed; logic high of a 28 nm I/O-free reset line", lo_open=True)

    @property
    def t_read_s(self) -> float:
        """Time within a step at which spikes are read; the reset pulse starts then."""
        return self.t_step_s - self.t_reset_s - self.t_fall_s

    @property
    def pulse_integral_s(self) -> float:
        """``integral s(t) dt`` of one read pulse of unit level (the trapezoid), s: a linear load's charge per volt
        and siemens (t_pulse_s when the edges are equal)."""
        return self.t_pulse_s + (self.t_fall_s - self.t_rise_s) / 2.0

    @property
    def pulse_square_integral_s(self) -> float:
        """``integral s(t)^2 dt`` of one read pulse of unit level (the trapezoid), s."""
        return self.t_pulse_s - self.t_rise_s + (self.t_rise_s + self.t_fall_s) / 3.0

    def pulse_pwl(self, levels: Sequence[float] | np.ndarray) -> list[tuple[float, float]]:
        """PWL points of one pulse per step at ``levels[k]`` (0: no pulse in step k): trapezoids
        rising over t_rise_s from ``k t_step_s``, holding until ``k t_step_s + t_pulse_s`` and falling over
        t_fall_s."""
        pts: list[tuple[float, float]] = [(0.0, 0.0)]
        for k, level in enumerate(levels):
            if level == 0.0:
                continue
            t0 = k * self.t_step_s
            if pts[-1][0] >= t0:          # a pulse starting at t = 0: replace the origin point
                pts.pop()
            pts += [(t0, 0.0), (t0 + self.t_rise_s, level), (t0 + self.t_pulse_s, level),
                    (t0 + self.t_pulse_s + self.t_fall_s, 0.0)]
        return pts

    def draw_pwl(self, draws: Sequence[float]) -> list[tuple[float, float]]:
        """PWL points of a neuron's random-draw terminal ``u`` (V) holding ``draws[k]`` through step k: it moves to
        the next step's draw during the last ``t_fall_s`` of a step, while the reset pulse falls (no current
        flows and the hazard is cleared), on the reset's own breakpoints."""
        pts: list[tuple[float, float]] = [(0.0, float(draws[0]))]
        for k in range(1, len(draws)):
            t0 = k * self.t_step_s
            pts += [(t0 - self.t_fall_s, float(draws[k - 1])), (t0, float(draws[k]))]
        return pts

    def validate_against(self, mtj: MTJParams) -> None:
        """Check the timing relations that single-field ranges cannot express."""
        if self.t_pulse_s + self.t_fall_s + self.t_reset_s + self.t_fall_s > self.t_step_s:
            raise ConfigError(
                f"timing: t_pulse_s ({self.t_pulse_s:g}) + t_fall_s ({self.t_fall_s:g}) + t_reset_s "
                f"({self.t_reset_s:g}) + t_fall_s must fit in t_step_s ({self.t_step_s:g}): the current must have "
                f"fallen before the reset; lengthen t_step_s or shorten the pulses")
        if self.t_rise_s * 2 > self.t_pulse_s:
            raise ConfigError(f"timing: t_rise_s ({self.t_rise_s:g}) must be at most half of t_pulse_s "
                              f"({self.t_pulse_s:g}): the pulse must reach its level")
        if self.t_rise_s >= self.t_reset_s:
            raise ConfigError(f"timing: t_rise_s ({self.t_rise_s:g}) must be shorter than t_reset_s "
                              f"({self.t_reset_s:g}): the reset must reach its level")
        if self.v_reset_v <= mtj.v_rst_th_v:
            raise ConfigError(f"timing: v_reset_v ({self.v_reset_v:g} V) must exceed the model's reset "
                              f"threshold v_rst_th_v ({mtj.v_rst_th_v:g} V)")


@dataclass(frozen=True)
class NeuronDrive:
    """The stage between the crossbar and the neuron: a unidirectional, current-limited mirror (SI units).

    The differential column current ``i_in = I+ - I-`` (times the mirror gain) enters the stage; what
    leaves it into the MTJ is (``thermal_mtj_neuron.va`` module ``ipnet_neuron_drive``,
    ``ipnet_cosim.device.drive``)::

        v_comp = v_dd - v_headroom                                    (output compliance)
        i_max  = v_comp / R_AP(v_comp) = v_comp / (R_P (1 + TMR0 / (1 + v_comp^2 / Vh^2)))
        x      = max(i_in, 0) / i_max
        i_out  = i_max x / (1 + x^n)^(1/n)                            (n = knee)

    A net negative input gives no current (a mirror sources one way); the output saturates smoothly
    below ``i_max``, the current at which a fired (antiparallel, highest-resistance) junction takes the
    whole compliance ``v_comp``. So the MTJ voltage stays below ``v_dd - v_headroom`` in either state
    and the output transistor stays in saturation: the stage never asks for more than its supply.
    """

    v_dd_v: float = _param(0.9, "V", "supply of the neuron drive's output stage", 0.0, 5.0,
                           "assumed; nominal core supply of 28 nm CMOS (0.9 V, e.g. TSMC 28HPC+/GF 28SLP core "
                           "devices)", lo_open=True)
    v_headroom_v: float = _param(0.15, "V", "output headroom of the drive: the drop its output transistor needs "
                                 "to stay in saturation (the MTJ sees at most v_dd_v - v_headroom_v)", 0.0, 5.0,
                                 "assumed; V_dsat of one saturated output transistor in 28 nm, ~0.1-0.2 V "
                                 "(a cascode output needs about twice as much)")
    knee: float = _param(4.0, "1", "sharpness n of the soft current limit i_out = i_in / (1 + (i_in/i_max)^n)^(1/n)",
                         1.0, 50.0, "assumed; n = 4 keeps the stage within 1.6 % of linear up to half of i_max and "
                         "gives 84 % of i_max at i_in = i_max")
    r_in_ohm: float = _param(1.0, "ohm", "input resistance of the stage's current input (it senses the summed "
                             "mirror currents)", 1e-6, 1e3, "model numerics; 1 ohm, negligible for ideal "
                             "current-mirror inputs", lo_open=True)

    def v_compliance_v(self) -> float:
        """Largest voltage the stage can put across its load, v_dd - v_headroom, V."""
        return self.v_dd_v - self.v_headroom_v

    def i_max_a(self, mtj: MTJParams) -> float:
        """Current ceiling: a fired junction at ``v_compliance_v`` carries v / R_AP(v), A."""
        v = self.v_compliance_v()
        return v / (mtj.r_p_ohm * (1.0 + mtj.tmr0 / (1.0 + v * v / (mtj.vh_v * mtj.vh_v))))

    def model_params(self, mtj: MTJParams) -> tuple[tuple[str, float], ...]:
        """The stage's Verilog-A model parameters ``((name, value), ...)`` in declared order (SI units)."""
        return (("i_max_a", float(self.i_max_a(mtj))), ("knee", float(self.knee)), ("r_in_ohm", float(self.r_in_ohm)))

    def model_card(self, mtj: MTJParams, name: str = "drv", module: str = "ipnet_neuron_drive") -> str:
        """The ngspice ``.model`` line of the stage (parameters of the Verilog-A module, declared order)."""
        from ipnet_cosim.device.units import spice_number
        return f".model {name} {module} " + " ".join(f"{k}={spice_number(v)}" for k, v in self.model_params(mtj))


@dataclass(frozen=True)
class OperatingLimits:
    """The safe operating area of the neuron: limits that simulation results are checked against (SI units).

    With the drive's compliance ``v_dd_v - v_headroom_v`` and the free layer's Curie temperature
    ``mtj.tc_k`` these are the limits a run is checked against (``ipnet-cosim simulate --soa``): the
    voltage across the MTJ against the compliance and the breakdown voltage, the junction temperature
    against ``t_max_k`` and ``tc_k``.
    """

    v_breakdown_v: float = _param(1.4, "V", "breakdown voltage of the MgO barrier", 0.0, 10.0,
                                  "'Barrier breakdown mechanism in nano-scale perpendicular magnetic tunnel "
                                  "junctions with ultrathin MgO barrier' (2018): V_b = 1.4 V, twice the 0.7 V "
                                  "switching voltage, RA 7.0 ohm um^2, junctions down to 50 nm; STT writes run "
                                  "at about half of breakdown, and thinner barriers break down earlier",
                                  lo_open=True)
    t_max_k: float = _param(500.0, "K", "largest junction temperature for reliable operation", 1.0, 2000.0,
                            "assumed; below the ~620-720 K that 1 ns pulses reach in 40 nm MTJs, treated as an "
                            "endurance problem by Su et al., J. Appl. Phys. 136, 013901 (2024), and above the "
                            "~445 K (a ~145 K rise) of finite-element studies at the critical switching condition",
                            lo_open=True)


# Fields of the compact model before issue 31 (1 fs stimulus edges, an instant switch resolved by a step bound):
# simulator numerics that the physical edges (timing.t_rise_s, t_fall_s) and switching time (mtj.t_switch_s)
# replaced. A checkpoint saved with them loads with the physical defaults in their place.
LEGACY_NUMERICS: dict[str, dict[str, str]] = {
    "timing": {"t_edge_s": "the stimulus edges are physical now: timing.t_rise_s and timing.t_fall_s"},
    "mtj": {"fire_max_step_s": "the switch is a ramp over mtj.t_switch_s now, bounded by mtj.switch_steps",
            "fire_steps_per_width": "the switch is a ramp over mtj.t_switch_s now, bounded by mtj.switch_steps"},
}


def without_legacy_numerics(data: Mapping[str, Any]) -> dict[str, Any]:
    """A card table without the pre-issue-31 numerics fields (:data:`LEGACY_NUMERICS`), for saved checkpoints; a
    card from before issue 31 (no ``mtj.t_switch_s``) also loses ``fire_width``, whose meaning changed (the width
    of the state's step then, of the reversal's start now)."""
    out: dict[str, Any] = {}
    old_mtj = isinstance(data.get("mtj"), Mapping) and "t_switch_s" not in data["mtj"]
    for name, section in data.items():
        legacy = dict(LEGACY_NUMERICS.get(name, {}))
        if name == "mtj" and old_mtj:
            legacy["fire_width"] = "its meaning changed"
        out[name] = ({k: v for k, v in section.items() if k not in legacy} if isinstance(section, Mapping)
                     else section)
    return out


SECTIONS: tuple[tuple[str, type], ...] = (("mtj", MTJParams), ("timing", PulseTiming), ("drive", NeuronDrive),
                                          ("limits", OperatingLimits))


@dataclass(frozen=True)
class DeviceCard:
    """The complete device card: the MTJ model parameters, the step timing, the neuron drive and the
    operating limits."""

    mtj: MTJParams = field(default_factory=MTJParams)
    timing: PulseTiming = field(default_factory=PulseTiming)
    drive: NeuronDrive = field(default_factory=NeuronDrive)
    limits: OperatingLimits = field(default_factory=OperatingLimits)

    def __post_init__(self) -> None:
        for name, klass in SECTIONS:
            if not isinstance(getattr(self, name), klass):
                raise ConfigError(f"device card section '{name}' must be a {klass.__name__}")
            _validate_fields(getattr(self, name))
        m, d, lim = self.mtj, self.drive, self.limits
        if m.t_amb_k >= m.tc_k or m.t0_k >= m.tc_k:
            raise ConfigError(f"mtj: t_amb_k ({m.t_amb_k:g} K) and t0_k ({m.t0_k:g} K) must "
                              f"lie below the Curie temperature tc_k ({m.tc_k:g} K)")
        if lim.t_max_k >= m.tc_k:
            raise ConfigError(f"limits.t_max_k ({lim.t_max_k:g} K) must lie below the Curie temperature mtj.tc_k "
                              f"({m.tc_k:g} K): above Tc the free layer has no magnetic state to switch")
        if m.t_amb_k >= lim.t_max_k:
            raise ConfigError(f"mtj.t_amb_k ({m.t_amb_k:g} K) must lie below limits.t_max_k ({lim.t_max_k:g} K): "
                              f"a junction at ambient would already be outside its safe operating area")
        if d.v_headroom_v >= d.v_dd_v:
            raise ConfigError(f"drive.v_headroom_v ({d.v_headroom_v:g} V) must be below drive.v_dd_v "
                              f"({d.v_dd_v:g} V): nothing would be left across the MTJ")
        if d.v_compliance_v() >= lim.v_breakdown_v:
            raise ConfigError(f"drive.v_dd_v - drive.v_headroom_v ({d.v_compliance_v():g} V) must be below "
                              f"limits.v_breakdown_v ({lim.v_breakdown_v:g} V): the drive could break the barrier")
        self.timing.validate_against(m)

    # -- conversion -----------------------------------------------------------
    def to_dict(self) -> dict[str, dict[str, float]]:
        """Plain nested dict ``{"mtj": {...}, "timing": {...}, "drive": {...}, "limits": {...}}`` in SI units."""
        return {name: dataclasses.asdict(getattr(self, name)) for name, _ in SECTIONS}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], origin: str = "device card") -> "DeviceCard":
        """Build a card from ``{"mtj": {...}, "timing": {...}, ...}``; missing sections and keys keep defaults."""
        names = [name for name, _ in SECTIONS]
        if not isinstance(data, Mapping):
            raise ConfigError(f"{origin}: expected a table with sections {', '.join(names)}, "
                              f"got {type(data).__name__}")
        unknown = set(data) - set(names)
        if unknown:
            raise ConfigError(f"{origin}: unknown section(s) {sorted(unknown)}; "
                              f"the card has sections {', '.join(names)}")
        parts = {}
        for name, klass in SECTIONS:
            section = data.get(name, {})
            if not isinstance(section, Mapping):
                raise ConfigError(f"{origin}: section '{name}' must be a table of numbers")
            known = {f.name for f in fields(klass)}
            bad = set(section) - known
            old = sorted(bad & set(LEGACY_NUMERICS.get(name, {})))
            if old:
                raise ConfigError(f"{origin}: {name}.{old[0]} belongs to the compact model before issue 31 "
                                  f"({LEGACY_NUMERICS[name][old[0]]}); remove it from the card")
            if bad:
                raise ConfigError(f"{origin}: unknown parameter(s) {sorted(bad)} in section '{name}'; "
                                  f"known: {', '.join(sorted(known))}")
            values = {}
            for key, value in section.items():
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise ConfigError(f"{origin}: {name}.{key} must be a number in SI units, got {value!r}")
                values[key] = float(value)
            parts[name] = klass(**values)
        return cls(**parts)

    def replace(self, **changes: float) -> "DeviceCard":
        """A new card with fields changed by name (looked up in every section); validated."""
        data = self.to_dict()
        unknown = set(changes)
        for name, klass in SECTIONS:
            mine = {k: v for k, v in changes.items() if k in {f.name for f in fields(klass)}}
            data[name].update(mine)
            unknown -= set(mine)
        if unknown:
            raise ConfigError(f"device card: unknown parameter(s) {sorted(unknown)}")
        return DeviceCard.from_dict(data)

    # -- derived ----------------------------------------------------------------
    @property
    def max_time_step_s(self) -> float:
        """The largest time step of a transient of these neurons: max(tau_th, t_pulse) / 16, s. The trapezoidal
        rule's error on the heat's exponential decay is ~(dt / tau_th)^3 / 12 per step; at tau_th / 16 that is 2e-5
        of the rise, which keeps the heat a neuron carries to the next step within ~5 mK of the PyTorch twin
        (measured); a memoryless neuron's heat is gone by the end of its step, so its bound follows the pulse."""
        return max(self.mtj.tau_th_s, self.timing.t_pulse_s) / 16.0

    @property
    def drive_i_max_a(self) -> float:
        """The drive's current ceiling for this MTJ (:meth:`NeuronDrive.i_max_a`), A."""
        return self.drive.i_max_a(self.mtj)


def _validate_fields(section: Any) -> None:
    name = type(section).__name__
    for f in fields(section):
        value = getattr(section, f.name)
        meta = f.metadata
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{name}.{f.name} must be a number in {meta['unit']}, got {value!r}")
        if not math.isfinite(value):
            raise ConfigError(f"{name}.{f.name} is {value}; give a finite value in {meta['unit']} "
                              f"({meta['desc']})")
        lo, hi = meta["lo"], meta["hi"]
        unit = "" if meta["unit"] == "1" else f" {meta['unit']}"
        below = value <= lo if meta["lo_open"] else value < lo
        if below or value > hi:
            bracket = "(" if meta["lo_open"] else "["
            raise ConfigError(f"{name}.{f.name} = {value:g}{unit} is outside the allowed range "
                              f"{bracket}{lo:g}, {hi:g}] ({meta['desc']}); check the unit: values are SI")


def describe_fields(klass: type) -> list[dict[str, Any]]:
    """Name, default, unit, description, range and source of every field, in declared order."""
    return [{"name": f.name, "default": f.default, **f.metadata} for f in fields(klass)]

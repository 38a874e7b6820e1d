"""NIR graphs for the tests, built with the nir package: a chain Input -> nodes -> Output, without nir's type
inference (the importer must find every shape itself, and damaged graphs are sometimes the point)."""

from __future__ import annotations

import numpy as np


def chain_graph(input_shape, pairs, n_out: int):
    """``Input(input_shape)`` -> each ``(name, node)`` of ``pairs`` in order -> ``Output(n_out)``."""
    import nir
    nodes = {"input": nir.Input(input_type={"input": np.array(input_shape)})}
    for name, node in pairs:
        nodes[name] = node
    nodes["output"] = nir.Output(output_type={"output": np.array([n_out])})
    names = list(nodes)
    graph = nir.NIRGraph.__new__(nir.NIRGraph)
    graph.nodes, graph.edges, graph.metadata = nodes, list(zip(names[:-1], names[1:])), {}
    graph.input_type, graph.output_type = {}, {}
    return graph

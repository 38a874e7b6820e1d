"""Human reference data for the working-memory experiments, each entry with its citation.

Rule: a number appears here only if it was read in a stored copy of a published source (the
address where it was read is recorded with it). Where no number could be found offline, the
human trend is stored as a qualitative statement with ``values`` empty, and the experiment
says so (``"human reference: qualitative, numbers not available offline"``).

What was found (searches of the offline page corpus, 2026):

* n-back: no table or figure values of accuracy against n were found in a stored source. Two
  stored sources state the trend in words (accuracy falls as n grows); they are cited below.
* Free recall: Murdock (1962) reports the serial-position curves as figures only; the stored
  copy of the article gives Table 1 (mean number of words recalled per list, per group). Those
  six means and SDs are stored below; the shape of the curve (primacy, recency, flat middle) is
  stored as a qualitative statement.
* Interference: no human numbers are used.
"""

from __future__ import annotations

import copy
import math
from typing import Any

QUALITATIVE_NOTE = "human reference: qualitative, numbers not available offline"

MURDOCK_1962 = ("Murdock, B. B., Jr. (1962). The serial position effect of free recall. "
                "Journal of Experimental Psychology, 64(5), 482-488. doi:10.1037/h0045106")
MURDOCK_1962_READ_AT = "https://ptop.only.wip.la:443/https/www.scribd.com/document/433087420/Murdock"
MURDOCK_1962_DOI_READ_AT = "https://cdl-quail.readthedocs.io/en/latest/tutorial/murdock_1962.html"

JONIDES_1997 = ("Jonides, J., et al. (1997). Verbal working-memory load affects regional brain activation as "
                "measured by PET. Journal of Cognitive Neuroscience, 9(4), 462-475")
JONIDES_1997_READ_AT = "https://acnpsearch.tweb-dev.unibo.it/singlejournalindex/8335805"
MEULE_2017 = ("Meule, A. (2017). Reporting and interpreting working memory performance in n-back tasks. "
              "Frontiers in Psychology, article 00352. doi:10.3389/fpsyg.2017.00352")
MEULE_2017_READ_AT = "https://frontiersin.org/articles/10.3389/fpsyg.2017.00352/full"

NBACK: dict[str, Any] = {
    "task": "n-back",
    "citation_short": "Jonides et al. (1997), J. Cogn. Neurosci. 9(4):462-475; Meule (2017), Front. Psychol.",
    "kind": "qualitative",
    "note": QUALITATIVE_NOTE,
    "trend": "accuracy decreases (and reaction time increases) as n grows",
    "values": [],
    "sources": [
        {
            "citation": JONIDES_1997,
            "where": "abstract",
            "read_at": JONIDES_1997_READ_AT,
            "statement": "letter n-back with n varied; as n increased, subjects' behavioural performance "
                         "became poorer (no numbers in the stored abstract)",
        },
        {
            "citation": MEULE_2017,
            "where": "main text, paragraph on dependent variables",
            "read_at": MEULE_2017_READ_AT,
            "statement": "with increasing n, reaction times usually increase and accuracy decreases "
                         "(review statement citing Jonides et al. 1997 and others)",
        },
    ],
}

_MURDOCK_TABLE1 = (
    # group label (list length - seconds per item), list length, s/item, mean words recalled, SD
    ("10-2", 10, 2.0, 6.39, 0.76),
    ("20-1", 20, 1.0, 6.87, 1.16),
    ("15-2", 15, 2.0, 8.25, 1.40),
    ("30-1", 30, 1.0, 8.82, 1.98),
    ("20-2", 20, 2.0, 8.53, 2.08),
    ("40-1", 40, 1.0, 8.24, 1.08),
)

FREE_RECALL: dict[str, Any] = {
    "task": "immediate free recall, serial-position curve",
    "citation_short": "Murdock (1962), J. Exp. Psychol. 64(5):482-488",
    "kind": "qualitative shape; numeric list means only",
    "note": ("serial-position curve: " + QUALITATIVE_NOTE + " (Murdock 1962 gives the curves as figures; "
             "only Table 1, the mean number of words recalled per list, was readable)"),
    "trend": ("U-shaped serial-position curve: recall is highest for the last items (recency), higher "
              "for the first few items than for the middle (primacy), flat in between; recency is "
              "present for all list lengths 10-40"),
    "values": [
        {
            "quantity": "mean number of words recalled per list",
            "group": group,
            "list_length": length,
            "presentation_s_per_item": rate,
            "value": mean,
            "sd": sd,
            "unit": "words",
            "citation": MURDOCK_1962,
            "where": "Table 1 (mean number of words recalled), p. 483",
            "read_at": MURDOCK_1962_READ_AT,
            "reading_note": ("OCR text of the article; each row read as group, N, mean, SD "
                             "(N = 18, 16, 19, 19, 15, 16; the N of group 20-2 is garbled as '1.5')"),
        }
        for group, length, rate, mean, sd in _MURDOCK_TABLE1
    ],
    "sources": [
        {
            "citation": MURDOCK_1962,
            "where": "procedure and Table 1",
            "read_at": MURDOCK_1962_READ_AT,
            "statement": "six groups (10-2, 20-1, 15-2, 30-1, 20-2, 40-1: list length - s per word), 80 "
                         "lists each, words drawn at random from a pool of about 4000; free recall",
        },
        {
            "citation": MURDOCK_1962,
            "where": "doi as listed in a tutorial that re-analyses the data set",
            "read_at": MURDOCK_1962_DOI_READ_AT,
            "statement": "Murdock (1962), J. Exp. Psychol. 64(5), 482-488, doi 10.1037/h0045106",
        },
        {
            "citation": ("ACT-R group web page on the Murdock (1962) data (act.psy.cmu.edu, 'book', "
                         "chapter 7); secondary source, authors not named on the page"),
            "where": "web page on the Murdock (1962) data",
            "read_at": "http://act.psy.cmu.edu/book/Chapter7/murdock.html",
            "statement": "the data show the classic recency effect (high recall at the end of the list) and "
                         "a primacy effect (somewhat higher recall at the beginning), flat in the middle",
        },
    ],
}

INTERFERENCE: dict[str, Any] = {
    "task": "recognition after a filled delay",
    "kind": "none",
    "note": "no human reference is drawn for the interference experiment",
    "trend": "",
    "values": [],
    "sources": [],
}

_ALL = {"nback": NBACK, "free_recall": FREE_RECALL, "interference": INTERFERENCE}


def get(name: str) -> dict[str, Any]:
    """A deep copy of the reference record for ``name`` ("nback", "free_recall", "interference")."""
    return copy.deepcopy(_ALL[name])


def numeric_entries(record: Any, path: str = "") -> list[tuple[str, float, dict[str, Any]]]:
    """Every number in ``record`` with its path and the nearest enclosing dict (which must cite it)."""
    found: list[tuple[str, float, dict[str, Any]]] = []

    def walk(node: Any, where: str, owner: dict[str, Any]) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{where}.{key}", node)
        elif isinstance(node, (list, tuple)):
            for i, value in enumerate(node):
                walk(value, f"{where}[{i}]", owner)
        elif isinstance(node, (int, float)) and not isinstance(node, bool):
            if math.isfinite(float(node)):
                found.append((where, float(node), owner))

    walk(record, path, {})
    return found


def all_records() -> dict[str, dict[str, Any]]:
    """Deep copies of all reference records, keyed by experiment name."""
    return {name: get(name) for name in _ALL}

#!/usr/bin/python3
"""Reference implementation of the eight Nelson rules, independent of src/analysis/spc/nelson.cpp.

It follows L. S. Nelson (1984) as the rules are stated in src/analysis/spc/nelson.hpp, and computes
them a different way from the C++ sliding window: one numpy boolean array per zone test over the
whole sequence, window counts from cumulative sums, and the up/down steps from the signs of np.diff.
tests/unit/spc_reference_test.cpp runs it on random data and compares its answers with
spc::evaluate value by value.

Usage: /usr/bin/python3 tests/reference/nelson.py < cases.json > answers.json
  input:  {"cases": [{"values": [...], "center": c, "sigma_above": a, "sigma_below": b}, ...]}
  output: {"results": [[[{"rule": r, "points": [...]}, ...] per value] per case]}
For each value, the rules it fires in rule order; "points" are the 0-based positions of the rule's
whole window (the last k values ending at that value), oldest first.
"""
import json
import sys

import numpy as np

# Window length k of each rule, 1..8.
WINDOW = {1: 1, 2: 9, 3: 6, 4: 14, 5: 3, 6: 5, 7: 15, 8: 8}


def trailing_count(mask, k):
    """counts[i] = how many of mask[i-k+1 .. i] are true; -1 where fewer than k values exist."""
    sums = np.concatenate(([0], np.cumsum(mask, dtype=np.int64)))
    counts = np.full(mask.shape, -1, dtype=np.int64)
    if len(mask) >= k:
        counts[k - 1:] = sums[k:] - sums[:-k]
    return counts


def all_of_last(mask, k):
    return trailing_count(mask, k) == k


def fired_rules(values, center, sigma_above, sigma_below):
    """A boolean array per rule: fired[r][i] when values[i] fires rule r."""
    x = np.asarray(values, dtype=np.float64)
    d = x - center

    def beyond_above(k):
        return d > k * sigma_above

    def beyond_below(k):
        return d < -(k * sigma_below)

    beyond_1 = beyond_above(1) | beyond_below(1)

    # step[i] is the sign of x[i] - x[i-1] (0 at i = 0, which has no step before it).
    step = np.concatenate(([0], np.sign(np.diff(x)))).astype(np.int64)
    # turn[i]: the step into x[i] and the step into x[i-1] are both nonzero and of opposite signs.
    turn = np.concatenate(([False], step[1:] * step[:-1] < 0))

    def k_of_last_on_one_side(k, n, sigmas):
        # The newest is beyond on a side, and at least k of the last n are beyond on that same side.
        fired = np.zeros(x.shape, dtype=bool)
        for beyond in (beyond_above(sigmas), beyond_below(sigmas)):
            fired |= beyond & (trailing_count(beyond, n) >= k)
        return fired

    return {
        1: beyond_above(3) | beyond_below(3),
        2: all_of_last(d > 0, 9) | all_of_last(d < 0, 9),
        # 6 values are 5 steps; the 5 steps ending at i all up, or all down.
        3: all_of_last(step > 0, 5) | all_of_last(step < 0, 5),
        # 14 values are 13 steps, i.e. 12 turns between consecutive steps, all ending at i.
        4: all_of_last(turn, 12),
        5: k_of_last_on_one_side(2, 3, 2),
        6: k_of_last_on_one_side(4, 5, 1),
        7: all_of_last(~beyond_1, 15),
        8: all_of_last(beyond_1, 8),
    }


def answers(case):
    values = case["values"]
    fired = fired_rules(values, case["center"], case["sigma_above"], case["sigma_below"])
    per_value = [[] for _ in values]
    for rule in sorted(fired):
        k = WINDOW[rule]
        for i in np.flatnonzero(fired[rule]):
            i = int(i)  # at least k - 1: trailing_count answers -1 before a whole window
            per_value[i].append({"rule": rule, "points": list(range(i - k + 1, i + 1))})
    return per_value


def main():
    cases = json.load(sys.stdin)["cases"]
    json.dump({"results": [answers(case) for case in cases]}, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()

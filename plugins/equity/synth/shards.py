"""National scale in bounded memory: the population split into province shards.

A run of more than `Params.shard_persons` persons is simulated shard by shard: the provinces are
split into K = ceil(children / shard_persons) groups of about equal expected population (longest
processing time first on the generator's own province weights, G-code households included), and
each group is simulated over all days with its own seed, writing its own part files, before the
next one starts. Only one shard's world and delivered history are in memory at a time.

Each shard gets `persons` = its expected share of `children`, and a G-code share such that the
national mix (2.5 % G-code, half of them in Tak, the rest spread over the border provinces) is the
same as in an unsharded run. Everything a shard draws stays inside its provinces (home moves,
transfers, vocational colleges): the documented simplification of sharded mode.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from equity.synth.geography import Reference
from equity.synth.params import Params
from equity.synth.world import BORDER_PROVINCES, PROVINCE_BOOST, TAK


def province_weights(ref: Reference) -> dict[str, float]:
    """Population weight of a province: its subdistricts, Bangkok and its ring boosted."""
    count: dict[str, int] = {}
    for s in ref.subdistricts.values():
        count[s.province_code] = count.get(s.province_code, 0) + 1
    return {pc: count[pc] * PROVINCE_BOOST.get(pc, 1.0) for pc in sorted(count)}


def migrant_weights(provinces, p: Params) -> dict[str, float]:
    """Probability that a G-code household is placed in each province (World.pick_migrant_province)."""
    border = sorted(pc for pc in BORDER_PROVINCES if pc in provinces)
    out = {pc: (1 - p.g_code_tak_share) / len(border) for pc in border}
    if TAK in out:
        out[TAK] += p.g_code_tak_share
    return out


@dataclass(frozen=True)
class Shard:
    index: int
    provinces: tuple[str, ...]
    persons: int                 # persons to build in this shard
    g_code_share: float          # of this shard's households (keeps the national mix)
    migrant_provinces: tuple[str, ...]
    migrant_weights: tuple[float, ...]

    def seed(self, run_seed: int) -> str:
        return f"equity-{run_seed}-shard-{self.index}"


def plan_shards(ref: Reference, p: Params, children: int) -> list[Shard] | None:
    """None (one unsharded world) when `children` <= p.shard_persons; else the shards, in order."""
    if p.shard_persons <= 0 or children <= p.shard_persons:
        return None
    weights = province_weights(ref)
    total = sum(weights.values())
    g = p.g_code_share
    migrant = migrant_weights(weights, p)
    load = {pc: (1 - g) * w / total + g * migrant.get(pc, 0.0) for pc, w in weights.items()}
    k = min(math.ceil(children / p.shard_persons), len(weights) // 2)
    groups: list[list[str]] = [[] for _ in range(k)]
    sums = [0.0] * k
    for pc in sorted(load, key=lambda c: (-load[c], c)):  # longest processing time first
        j = min(range(k), key=lambda j: (sums[j], j))
        groups[j].append(pc)
        sums[j] += load[pc]
    # a group needs two LAOs at least (a move goes to another LAO): Bangkok alone is one LAO
    laos = {pc: set() for pc in weights}
    for s in ref.subdistricts.values():
        laos[s.province_code].add(s.lao_code)
    for grp in groups:
        if len(set().union(*(laos[pc] for pc in grp))) < 2:
            donor = max((i for i in range(k) if len(groups[i]) > 1), key=lambda i: (len(groups[i]), -i))
            pc = min(groups[donor], key=lambda c: (load[c], c))
            groups[donor].remove(pc)
            grp.append(pc)
    groups = sorted((sorted(grp) for grp in groups), key=lambda grp: grp[0])
    shards = []
    for j, grp in enumerate(groups):
        share = sum(load[pc] for pc in grp)
        mig = [pc for pc in grp if pc in migrant]
        m = sum(migrant[pc] for pc in mig)
        shards.append(Shard(j, tuple(grp), max(1, round(children * share)), g * m / share,
                            tuple(mig), tuple(migrant[pc] for pc in mig)))
    return shards

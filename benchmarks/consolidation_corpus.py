"""A lesson/patch corpus with known structure, to check that consolidation recovers it.

K topics, each taught by many trajectories in paraphrased lessons (the same guidance in
different words, near-copies with small additions, under two section titles); a few
topics rare enough for references/; one-off lessons that no other trajectory shares; and
contradictory pairs (a minority of trajectories saying the opposite of a topic). Each
trajectory yields up to 3 lessons of different topics and one patch with one
``add_section`` edit per lesson, the shape the analysts produce.

``python -m benchmarks.consolidation_corpus`` consolidates it with the fake LLM and prints
cluster purity, the tiers reached and the LLM merge calls against the number of patches.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from dataclasses import dataclass, field

from trace2skill.schema import Edit, Lesson, Patch, stable_id


@dataclass(frozen=True)
class Topic:
    key: str
    kind: str
    sections: tuple[str, ...]
    lessons: tuple[tuple[str, str, str], ...]  # (title, description, content) paraphrases
    contra: tuple[str, str, str] | None = None


TOPICS: tuple[Topic, ...] = (
    Topic(
        "refunds",
        "failure",
        ("Refunds", "Refund rules"),
        (
            ("Refund to the original payment method", "When a cancellation or change gives money back.", "Send every refund to the original payment method of the reservation."),
            ("Use the original payment method for refunds", "When money goes back to the customer.", "Always return the refund to the original payment method used for the reservation."),
            ("Refunds follow the original payment", "When a refund is due after a cancellation.", "Issue each refund only to the payment method the reservation was originally paid with."),
            ("Route refunds to the original method", "When processing a refund.", "Route refunds to the original payment method recorded on the reservation."),
        ),
        ("Refund with a voucher instead", "When a refund is due.", "Never send a refund to the original payment method; offer a travel voucher instead."),
    ),
    Topic(
        "identity",
        "failure",
        ("Identity check", "Identity verification"),
        (
            ("Verify the user id first", "Before touching any booking.", "Verify the user id with get_user_details before touching any reservation."),
            ("Look up the user before acting", "At the start of every request.", "Look up the user id with get_user_details first, and only act on reservations of that user."),
            ("Check identity with get_user_details", "Before any reservation lookup.", "Check the customer's user id with get_user_details before reading or changing a reservation."),
        ),
    ),
    Topic(
        "confirmation",
        "failure",
        ("Confirmation", "Confirming changes"),
        (
            ("Wait for an explicit yes", "Before any write action.", "Read back the exact change and price, and wait for an explicit yes before any write action."),
            ("Confirm the change explicitly", "Before changing a booking.", "State the exact change with its price and proceed only after an explicit yes from the customer."),
            ("Get explicit consent for writes", "Before writes such as cancellations or upgrades.", "List the exact change and price, then wait for the customer's explicit yes before the write action."),
        ),
        ("Skip the confirmation step", "Before a write action.", "Do not wait for an explicit yes before a write action; the change request itself is consent."),
    ),
    Topic(
        "tool-calls",
        "success",
        ("Tool calls", "Tool call discipline"),
        (
            ("One tool call at a time", "Whenever tools are used.", "Make one tool call at a time and wait for its result before the next call."),
            ("Sequential tool calls", "During any multi-step task.", "Issue tool calls one at a time, reading each result before making the next call."),
            ("Wait for each tool result", "When several tools are needed.", "Wait for the result of each tool call before making another tool call."),
        ),
    ),
    Topic(
        "baggage",
        "success",
        ("Checked bags", "Baggage fees"),
        (
            ("Compute bag fees first", "When a customer adds checked bags.", "Compute the checked bag fee from the membership tier and cabin before updating bags."),
            ("Price checked bags by tier", "Before update_reservation_baggages.", "Work out the free checked bag allowance from membership tier and cabin, then the fee, before updating bags."),
            ("Bag allowance depends on tier and cabin", "When bags are added.", "Derive the checked bag fee from cabin and membership tier before calling the bag update."),
        ),
    ),
    Topic(
        "cancellation",
        "failure",
        ("Cancellation rules", "Cancellations"),
        (
            ("Check cancellation eligibility", "Before cancel_reservation.", "Check the 24-hour window, travel insurance or business cabin before cancelling a reservation."),
            ("Cancel only when eligible", "When a customer wants to cancel.", "Cancel a reservation only within 24 hours of booking, with travel insurance, or in business cabin."),
            ("Eligibility before cancelling", "Before any cancellation.", "Before cancelling, confirm the booking is within 24 hours, insured, or in business cabin."),
        ),
    ),
    Topic(
        "compensation",
        "failure",
        ("Compensation", "Delay compensation"),
        (
            ("Certificates only after a complaint", "When a flight was delayed.", "Offer a delay certificate only after the customer complains and the flight status shows the delay."),
            ("Verify the delay before compensating", "When a customer complains about a delay.", "Send a compensation certificate for a delay only once the flight status confirms it and the customer asked."),
        ),
    ),
    Topic(
        "basic-economy",
        "failure",
        ("Basic economy", "Basic economy limits"),
        (
            ("Basic economy stays unmodified", "When a basic economy booking should change.", "Keep basic economy reservations unmodified and explain which options remain for the booking."),
            ("Explain basic economy options", "When a customer in basic economy wants a change.", "Explain the remaining options for basic economy reservations, which stay unmodified."),
        ),
    ),
)

ONE_OFFS: tuple[tuple[str, str, str, str], ...] = (
    ("Greet by loyalty tier", "At the start of a chat.", "Greet returning customers by their loyalty tier name.", "greeting"),
    ("Metric units for Europe", "When the customer writes from Europe.", "Use metric units when a customer writes from Europe.", "units"),
    ("Seat map for legroom", "When asked about legroom.", "Mention the seat map link when the customer asks about legroom.", "seating"),
    ("Spell out airport codes", "For first-time flyers.", "Spell out airport codes as full city names for first-time flyers.", "airport codes"),
    ("Pet travel form", "When an animal is mentioned.", "Offer the pet travel form when the customer mentions an animal.", "pets"),
    ("Summarize meal preferences", "At the end of a chat.", "Summarize meal preferences at the end of the chat.", "meals"),
    ("Formal tone for capitals", "When the customer writes in capitals.", "Switch to a formal tone when the customer writes in capital letters.", "tone"),
    ("Mobile app boarding passes", "When boarding passes come up.", "Suggest the mobile app for boarding passes.", "boarding pass"),
    ("Lounge rules for gold", "For gold members.", "Quote the lounge access rules to gold members.", "lounge"),
    ("Visa reminders", "For international itineraries.", "Remind travellers to check visa requirements for international itineraries.", "visa"),
    ("Wifi vouchers", "On long-haul flights.", "Mention wifi vouchers on long-haul flights.", "wifi"),
    ("Log the chat language", "For analytics.", "Log the chat language for analytics dashboards.", "analytics"),
)

_SUFFIXES = ("", " Double-check it.", " This saves a retry.", " It avoids an escalation.")


@dataclass
class Corpus:
    lessons: list[Lesson]
    patches: list[Patch]
    truth: dict[str, str]  # lesson id -> topic key, or "one-off:<topic>"
    expected_tier: dict[str, str]  # topic key -> skill | reference
    contradicted: list[str]  # topic keys with a minority saying the opposite
    minority: set[str] = field(default_factory=set)  # lesson ids of the contradicting minority


def make_corpus(
    n_trajectories: int = 120,
    *,
    supports: dict[str, int] | None = None,
    contra_support: int = 3,
    one_offs: int = 10,
    seed: int = 0,
    skill_support: int = 5,
) -> Corpus:
    """Lessons and patches of ``n_trajectories`` trajectories; ``supports`` maps topic key to
    the number of trajectories teaching it (default: large for six topics, 2-3 for two)."""
    rng = random.Random(seed)
    scale = n_trajectories / 120
    supports = supports or {
        "refunds": round(40 * scale), "identity": round(34 * scale), "confirmation": round(28 * scale),
        "tool-calls": round(22 * scale), "baggage": round(16 * scale), "cancellation": round(12 * scale),
        "compensation": 3, "basic-economy": 2,
    }  # fmt: skip
    topics = {t.key: t for t in TOPICS}
    one_off_trajs = list(range(n_trajectories - one_offs, n_trajectories))
    pool = list(range(n_trajectories - one_offs))  # one-offs get trajectories of their own
    per_traj: dict[int, list[tuple[Topic, tuple[str, str, str], bool]]] = {i: [] for i in range(n_trajectories)}
    contradicted = [k for k, t in topics.items() if t.contra and k in supports]
    for key, count in supports.items():
        topic = topics[key]
        chosen = _pick(rng, pool, per_traj, count + (contra_support if key in contradicted else 0))
        for n, traj in enumerate(chosen):
            contra = key in contradicted and n >= count
            per_traj[traj].append((topic, topic.contra if contra else rng.choice(topic.lessons), contra))
    for traj, (title, desc, content, topic) in zip(one_off_trajs, ONE_OFFS[:one_offs]):
        per_traj[traj].append((Topic(f"one-off:{topic}", "success", (title,), ((title, desc, content),)), (title, desc, content), False))

    lessons, patches, truth, minority = [], [], {}, set()
    for traj in range(n_trajectories):
        items = per_traj[traj]
        if not items:
            continue
        tid = f"t{traj:05d}"
        traj_lessons, edits = [], []
        for i, (topic, (title, desc, content), contra) in enumerate(items):
            text = content + rng.choice(_SUFFIXES)
            lesson = Lesson(
                id=stable_id(tid, str(i), prefix="l-"), trajectory_id=tid, kind=topic.kind, title=title, description=desc, content=text,
                topic=topic.key.split(":")[-1].replace("-", " "),
            )  # fmt: skip
            traj_lessons.append(lesson)
            truth[lesson.id] = topic.key
            if contra:
                minority.add(lesson.id)
            edits.append(Edit(op="add_section", section=rng.choice(topic.sections), content=f"- {text}", reason=title))
        lessons.extend(traj_lessons)
        patches.append(
            Patch(
                id=stable_id(tid, prefix="p-"), edits=edits, lesson_ids=[l.id for l in traj_lessons], trajectory_ids=[tid], support=1,
                topic=traj_lessons[0].topic,
            )  # fmt: skip
        )
    expected = {k: ("skill" if n >= skill_support else "reference") for k, n in supports.items()}
    return Corpus(lessons=lessons, patches=patches, truth=truth, expected_tier=expected, contradicted=contradicted, minority=minority)


def _pick(rng: random.Random, pool: list[int], per_traj: dict, count: int) -> list[int]:
    # Trajectories with the fewest lessons first (at most 3 each), ties at random.
    ranked = sorted(pool, key=lambda t: (len(per_traj[t]), rng.random()))
    chosen = [t for t in ranked if len(per_traj[t]) < 3][:count]
    if len(chosen) < count:
        raise ValueError("not enough trajectories for the requested supports")
    return chosen


def evaluate(corpus: Corpus, result) -> dict:
    """Recovery metrics of a ``Consolidation`` on ``corpus`` (see ``docs/consolidation.md``)."""
    from collections import Counter

    from trace2skill.consolidate.cluster import purity

    unit_cluster = {}
    for c in result.clusters:
        for lid in c.lesson_ids:
            unit_cluster[lid] = c.cluster_id
        for f in c.collapsed:
            for lid in f.lesson_ids:
                unit_cluster[lid] = c.cluster_id
        for d in c.dropped:
            for lid in d.lesson_ids:
                unit_cluster[lid] = c.cluster_id
    ids = [lid for lid in corpus.truth if lid in unit_cluster]
    topics = {k for k in corpus.truth.values() if not k.startswith("one-off")}
    content_rows = [r for r in result.provenance if r.kind in ("skill", "reference")]
    placed = {lid: r for r in content_rows for lid in r.lesson_ids}
    split = {}
    for key in topics:
        clusters = Counter(unit_cluster[l] for l, k in corpus.truth.items() if k == key and l in unit_cluster)
        split[key] = len(clusters)
    tiers = {}
    for key in topics:  # the highest tier a topic reached (its uncorroborated lessons may add a reference file)
        kinds = {r.kind for r in content_rows if any(corpus.truth.get(l) == key for l in r.lesson_ids)}
        tiers[key] = "skill" if "skill" in kinds else "reference" if kinds else "missing"
    one_offs = [l for l, k in corpus.truth.items() if k.startswith("one-off")]
    dropped = {l for r in result.provenance if r.kind in ("dropped", "collapsed") for l in r.lesson_ids}
    conflicts = [r for r in result.provenance if r.kind == "conflict"]
    written = result.final.skill.skill_md() + "".join(result.final.skill.files.values())
    minority_texts = {l.content for l in corpus.lessons if l.id in corpus.minority}
    return {
        "lessons": len(corpus.lessons),
        "patches": len(corpus.patches),
        "units": result.stats.units,
        "collapsed": result.stats.collapsed,
        "units_merged": result.stats.units_merged,
        "clusters": result.stats.clusters,
        "purity": round(purity([unit_cluster[i] for i in ids], [corpus.truth[i] for i in ids]), 4),
        "topics_split": {k: v for k, v in split.items() if v > 1},
        "tiers": tiers,
        "tiers_as_expected": all(tiers[k] == corpus.expected_tier[k] for k in topics),
        "one_offs_in_skill": sum(l in placed and placed[l].kind == "skill" for l in one_offs),
        "one_offs_in_references": sum(l in placed and placed[l].kind == "reference" for l in one_offs),
        "one_offs_unaccounted": sum(l not in placed and l not in dropped for l in one_offs),
        "conflicts_logged": len(conflicts),
        "minority_in_skill": sum(t in written for t in minority_texts),
        "merge_calls": result.stats.merge_calls + result.stats.final_merge_calls,
        "llm_prompt_tokens": result.stats.usage.prompt_tokens,  # merges, fixes and anchor restatements (the fake LLM counts ~4 characters a token)
        "llm_completion_tokens": result.stats.usage.completion_tokens,
        "failed_merges": result.stats.failed_merges,
        "valid": not result.final.problems,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trajectories", type=int, default=120)
    parser.add_argument("--embedder", default="hashing", choices=["hashing", "minilm"])
    parser.add_argument("--fan-in", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from trace2skill.consolidate.config import ConsolidateConfig
    from trace2skill.consolidate.embed import make_embedder
    from trace2skill.consolidate.merge import merge_patches
    from trace2skill.consolidate.run import consolidate
    from trace2skill.consolidate.view import consolidation_view
    from trace2skill.llm.fake import FakeLLM
    from trace2skill.skill.folder import minimal_skill

    corpus = make_corpus(args.trajectories, seed=args.seed)
    s0 = minimal_skill("airline-agent", "Airline customer support with reservation tools. Use for airline support tasks.")
    view, llm = consolidation_view(s0), FakeLLM()
    cfg = ConsolidateConfig(embedder=args.embedder, skill_min_support=5, fan_in=args.fan_in)
    t0 = time.perf_counter()
    result = consolidate(s0, corpus.lessons, corpus.patches, cfg=cfg, embedder=make_embedder(args.embedder), merge=lambda ps: merge_patches(ps, view, llm))
    report = evaluate(corpus, result) | {"embedder": args.embedder, "seconds": round(time.perf_counter() - t0, 2)}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()

"""Robust accuracy of CoPur on the built-in digits agents (issue 3, acceptance 2).

Pipeline: BlockEmbedder (4 agents, trained jointly on the clean training split) -> attack ->
defense -> MLPFusionClassifier. The defense is nothing (unsecured; missing blocks filled
with the training mean), ManifoldProjection or CoPurTransformer. Every pipeline is trained on
clean data and scored under each attack of ``ATTACKS``; the embedder is fitted once per seed
and shared, so the defenses are compared on the same embeddings.

Two settings:

* ``default``: the built-in split into horizontal bands, embedders trained jointly, CoPur
  returning ``D(E(l^))`` (the paper's output). Bands are not redundant: dropping one loses
  information no defense can restore.
* ``redundant``: the polyphase split (every agent sees the whole digit at half resolution),
  each agent's embedder trained locally on the labels, and CoPur with ``output="replace"``
  (clean blocks pass through); the fusion classifier is trained on the raw clean
  embeddings, which is what it sees in that mode.

Run:  python benchmarks/copur_digits.py [--seeds 0 1 2] [--setting default|redundant]
Writes benchmarks/results/copur_digits.{csv,md} (default) or copur_digits_redundant.{csv,md}.
"""

import argparse
import time
from pathlib import Path

import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_robust.adversaries import CombinedAttack, FeatureFlip, MissingBlocks
from sklearn_robust.datasets import load_digits_agents
from sklearn_robust.estimators import (
    BlockEmbedder,
    CoPurTransformer,
    ManifoldProjection,
    MLPFusionClassifier,
)

RESULTS = Path(__file__).parent / "results"
N_AGENTS = 4
EMBEDDING_DIM = 8


def attacks(seed):
    """The attacks of the table: a quarter of the agents (one of four) is hit, each in turn."""
    table = {"none": None}
    for agent in range(N_AGENTS):
        table[f"flip x10 (agent {agent})"] = FeatureFlip(
            blocks=N_AGENTS, agents=[agent], amplification=10
        )
    for agent in range(N_AGENTS):
        table[f"missing (agent {agent})"] = MissingBlocks(blocks=N_AGENTS, agents=[agent])
    table["missing (agent 0) + flip x10 (agent 3)"] = CombinedAttack(
        [
            ("missing", MissingBlocks(blocks=N_AGENTS, agents=[0])),
            ("flip", FeatureFlip(blocks=N_AGENTS, agents=[3], amplification=10)),
        ]
    )
    return table


SETTINGS = {
    "default": {"split": "bands", "training": "joint", "output": "reconstruction"},
    "redundant": {"split": "polyphase", "training": "local", "output": "replace"},
}


def defenses(seed, output="reconstruction"):
    return {
        # The unsecured fusion center still has to read missing agents: mean fill.
        "unsecured": SimpleImputer(strategy="mean"),
        "manifold projection": ManifoldProjection(blocks=N_AGENTS, random_state=seed),
        # The results committed were measured with the detection rule of the time; it is
        # pinned so that the script reproduces them. These are accuracies under the flip
        # and missing agents, not robustness: see benchmarks/copur_adaptive.py.
        "CoPur": CoPurTransformer(
            blocks=N_AGENTS, output=output, detection="residual", random_state=seed
        ),
    }


def run(seeds, setting="default"):
    config = SETTINGS[setting]
    digits = load_digits_agents(n_agents=N_AGENTS, split=config["split"])
    rows = []
    for seed in seeds:
        X_train, X_test, y_train, y_test = train_test_split(
            digits.data / 16.0, digits.target, test_size=0.3, random_state=seed,
            stratify=digits.target,
        )
        embedder = BlockEmbedder(
            blocks=digits.blocks, embedding_dim=EMBEDDING_DIM, lr=1e-2,
            training=config["training"], random_state=seed,
        ).fit(X_train, y_train)
        H_train, H_test = embedder.transform(X_train), embedder.transform(X_test)
        for defense_name, defense in defenses(seed, config["output"]).items():
            start = time.perf_counter()
            model = Pipeline(
                [
                    ("defense", defense),
                    ("scale", StandardScaler()),
                    ("clf", MLPFusionClassifier(lr=1e-2, random_state=seed)),
                ]
            ).fit(H_train, y_train)
            fit_time = time.perf_counter() - start
            for attack_name, attack in attacks(seed).items():
                H_attacked = H_test if attack is None else attack.fit(H_train).transform(H_test)
                start = time.perf_counter()
                accuracy = model.score(H_attacked, y_test)
                rows.append(
                    {
                        "seed": seed,
                        "defense": defense_name,
                        "attack": attack_name,
                        "accuracy": 100 * accuracy,
                        "fit_s": fit_time,
                        "score_s": time.perf_counter() - start,
                    }
                )
                print(f"seed {seed}  {defense_name:20s} {attack_name:40s} {100 * accuracy:5.1f}")
    return pd.DataFrame(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--setting", choices=list(SETTINGS), default="default")
    args = parser.parse_args()
    frame = run(args.seeds, args.setting)
    RESULTS.mkdir(exist_ok=True)
    stem = "copur_digits" if args.setting == "default" else f"copur_digits_{args.setting}"
    frame.to_csv(RESULTS / f"{stem}.csv", index=False)
    table = frame.pivot_table(
        index="defense", columns="attack", values="accuracy", aggfunc=["mean", "std"],
        dropna=False,
    )
    order = list(attacks(0))
    mean = table["mean"][order].round(1).astype(str)
    std = table["std"][order].round(1).astype(str)
    summary = (mean + " ± " + std).loc[["unsecured", "manifold projection", "CoPur"]].T
    config = ", ".join(f"{k}={v}" for k, v in SETTINGS[args.setting].items())
    text = (
        f"# CoPur on the digits agents ({args.setting} setting: {config})\n\nAccuracy (%) on "
        f"the test split, mean ± std over seeds {args.seeds}; {N_AGENTS} agents, embeddings "
        f"of width {EMBEDDING_DIM}; CoPur with detection='residual'.\nCommand: `python "
        f"benchmarks/copur_digits.py --setting {args.setting}`\n\n"
        "These attacks do not know the defense: the numbers are not robustness. Under the "
        "adaptive suite (EnsembleAttack) see copur_adaptive_*.md.\n\n```\n"
        + summary.to_string() + "\n```\n"
    )
    (RESULTS / f"{stem}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()

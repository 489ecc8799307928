"""CoPur and the baselines under the adaptive-attack suite (issue 12, acceptance 1-2).

The pipelines are those of the README and of ``benchmarks/copur_digits.py``:

* ``bands`` -- the README pipeline: digits cut into 4 horizontal bands, a jointly trained
  ``BlockEmbedder(embedding_dim=8)``, ``train_test_split(random_state=seed)`` (25 % test),
  CoPur with its defaults (``output="reconstruction"``);
* ``redundant`` -- polyphase agents, locally trained embedders, CoPur with
  ``output="replace"`` (the setting where a flipped agent costs CoPur 2-4 points).

Every defense is trained on the clean embeddings, then scored with agent 3 (``--agents``)
attacked without any bound, by the library's former attacks (flip x10; the targeted PGD
through the whole model of ``copur_comparison``'s "adaptive" experiment, the one the README
quoted; untargeted PGD with raw-gradient steps) and by :class:`EnsembleAttack`, the
per-row strongest of the suite (each member's own accuracy is recorded too). Each attack
knows the defense it attacks: its gradients go through it, the threshold-aware member
queries its detection rule and thresholds, the replacement member its predictions.

Defenses: unsecured (mean imputation), manifold projection, CoPur as it was before the
suite (``detection="residual"``: the paper's method with the library's former threshold),
CoPur with calibrated detection (``detection="calibrated"``, the
improvement that survived the suite, see the user guide), randomized smoothing, randomized
ablation (2 of 4 agents), adversarial training, and the certified mode:
``RandomizedAblationClassifier(n_keep=1, subsets="all")``, whose ``certify`` says how many
corrupted agents each prediction withstands (its certified accuracy is reported as an
attack-independent row, "certified (any attack on 1 agent)").

Run:  python benchmarks/copur_adaptive.py [--setting bands|redundant] [--seeds 0 1 2]
      [--defenses NAME ...] [--rows N] [--render]
Writes benchmarks/results/copur_adaptive_<setting>.csv and .md (merging with the rows
already there for other seeds or defenses); ``--render`` only rewrites the .md table from
the committed .csv. Standard deviations are sample ones (``ddof=1``), the library's
convention.
"""

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import get_tags

from sklearn_robust.adversaries import EnsembleAttack, FeatureFlip, MissingBlocks, PGDAttack
from sklearn_robust.datasets import load_digits_agents
from sklearn_robust.estimators import (
    AdversarialTrainingClassifier,
    BlockEmbedder,
    CoPurTransformer,
    ManifoldProjection,
    MLPFusionClassifier,
    RandomizedAblationClassifier,
    RandomizedSmoothingClassifier,
)
from sklearn_robust.estimators._randomized_ablation import _subset_votes

RESULTS = Path(__file__).parent / "results"
N_AGENTS = 4
SETTINGS = {
    "bands": {"split": "bands", "training": "joint", "output": "reconstruction"},
    "redundant": {"split": "polyphase", "training": "local", "output": "replace"},
}
ENSEMBLE = "ensemble (per-row strongest)"


def fusion(seed):
    return MLPFusionClassifier(lr=1e-2, random_state=seed)


def defenses(seed, output):
    """name -> unfitted model from embeddings to predictions."""

    def head(defense):
        return Pipeline([("defense", defense), ("scale", StandardScaler()), ("clf", fusion(seed))])

    def wrapped(classifier):
        steps = [("scale", StandardScaler()), ("defense", classifier)]
        if not get_tags(classifier).input_tags.allow_nan:  # missing agents: mean imputation
            steps.insert(0, ("impute", SimpleImputer(strategy="mean")))
        return Pipeline(steps)

    training_attack = PGDAttack(blocks=N_AGENTS, agents=[-1], step_size=0.5, max_iter=30)
    return {
        "unsecured": head(SimpleImputer(strategy="mean")),
        "manifold projection": head(ManifoldProjection(blocks=N_AGENTS, random_state=seed)),
        "CoPur": head(
            CoPurTransformer(
                blocks=N_AGENTS, output=output, detection="residual", random_state=seed
            )
        ),
        "CoPur (calibrated)": head(
            CoPurTransformer(
                blocks=N_AGENTS, output=output, detection="calibrated", random_state=seed
            )
        ),
        "randomized smoothing": wrapped(
            RandomizedSmoothingClassifier(fusion(seed), blocks=N_AGENTS, random_state=seed)
        ),
        "randomized ablation": wrapped(
            RandomizedAblationClassifier(fusion(seed), blocks=N_AGENTS, random_state=seed)
        ),
        "adversarial training": wrapped(
            AdversarialTrainingClassifier(
                fusion(seed), attack=training_attack, random_state=seed
            )
        ),
        "certified ablation": wrapped(
            RandomizedAblationClassifier(
                fusion(seed), blocks=N_AGENTS, n_keep=1, subsets="all", n_ablation_copies=8,
                random_state=seed,
            )
        ),
    }


def old_attacks(agent, target, seed):
    """The library's attacks before the suite: name -> attack."""
    return {
        f"flip x10 (agent {agent})": FeatureFlip(
            blocks=N_AGENTS, agents=[agent], amplification=10
        ),
        f"old adaptive targeted PGD (agent {agent})": PGDAttack(
            blocks=N_AGENTS, agents=[agent], targeted=True, target_class=target,
            step_size=0.5, max_iter=30, keep_best=False, random_state=seed,
        ),
        f"old adaptive untargeted PGD (agent {agent})": PGDAttack(
            blocks=N_AGENTS, agents=[agent], step_size=0.5, max_iter=30, keep_best=False,
            random_state=seed,
        ),
    }


def _attackable(model):
    """The part of a model attacks see: mean imputation is the identity on complete rows."""
    if isinstance(model[0], SimpleImputer):
        return model[1:]
    return model


def _certified_against(model, H, y, agent):
    """Share of rows right whatever agent ``agent`` alone sends (exact, every subset votes).

    The votes of the subsets without the agent are fixed; the others may go anywhere: a row
    counts when its true class still wins (ties go to the first class, as in predict)
    with all of them given to the strongest other class.
    """
    clf = model[-1]
    Z = model[:-1].transform(H)
    masks = clf._masks()
    votes = _subset_votes(clf.estimator_.predict, Z, clf.layout_.observed(Z), masks,
                          clf.layout_.block_of_column, clf.fill_values_, clf.classes_,
                          clf.batch_size)
    untouched = ~masks[:, agent]
    n_touch = int((~untouched).sum())
    counts = np.zeros((len(y), clf.classes_.size), dtype=np.int64)
    np.add.at(counts, (np.arange(len(y))[:, None], votes[:, untouched]), 1)
    truth = np.searchsorted(clf.classes_, y)
    own = counts[np.arange(len(y)), truth]
    lead = own[:, None] - counts - n_touch
    classes = np.arange(clf.classes_.size)
    ahead = (lead > 0) | ((lead == 0) & (truth[:, None] < classes[None, :]))
    ahead[np.arange(len(y)), truth] = True
    return float(np.mean(ahead.all(axis=1)))


def run(setting, seeds, names, agents, rows):
    config = SETTINGS[setting]
    digits = load_digits_agents(n_agents=N_AGENTS, split=config["split"])
    records = []
    for seed in seeds:
        X_train, X_test, y_train, y_test = train_test_split(
            digits.data / 16.0, digits.target, random_state=seed
        )
        embedder = BlockEmbedder(
            blocks=digits.blocks, embedding_dim=8, lr=1e-2, training=config["training"],
            random_state=seed,
        ).fit(X_train, y_train)
        H_train, H_test = embedder.transform(X_train), embedder.transform(X_test)
        if rows is not None:
            H_test, y_test = H_test[:rows], y_test[:rows]
        target = np.unique(y_train)[1]
        for name, model in defenses(seed, config["output"]).items():
            if names and name not in names:
                continue
            start = time.perf_counter()
            model.fit(H_train, y_train)
            fit_s = time.perf_counter() - start

            def record(attack, accuracy, seconds, agent="", seed=seed, name=name, fit_s=fit_s):
                records.append(
                    {"setting": setting, "seed": seed, "defense": name, "attack": attack,
                     "agent": agent, "accuracy": 100.0 * accuracy, "fit_s": fit_s,
                     "attack_s": seconds}
                )
                print(f"{setting} seed {seed} {name:22s} {attack:48s} {100 * accuracy:5.1f}"
                      f"  ({seconds:.0f} s)", flush=True)

            record("none", model.score(H_test, y_test), 0.0)
            if name == "certified ablation":
                y_pred, n_agents = model[-1].certify(model[0].transform(H_test))
                record("certified (any attack on 1 agent)",
                       float(np.mean((y_pred == y_test) & (n_agents >= 1))), 0.0)
                for agent in agents:
                    record(f"certified (any attack on agent {agent})",
                           _certified_against(model, H_test, y_test, agent), 0.0, agent)
            target_model = _attackable(model)
            for agent in agents:
                missing = MissingBlocks(blocks=N_AGENTS, agents=[agent]).fit(H_train)
                record(f"missing (agent {agent})", model.score(missing.transform(H_test), y_test),
                       0.0, agent)
                for attack_name, attack in old_attacks(agent, target, seed).items():
                    start = time.perf_counter()
                    attack.fit(H_train)
                    if isinstance(attack, PGDAttack):
                        H_adv = attack.attack(H_test, y_test, estimator=target_model)
                    else:
                        H_adv = attack.transform(H_test)
                    record(attack_name, model.score(H_adv, y_test),
                           time.perf_counter() - start, agent)
                start = time.perf_counter()
                ensemble = EnsembleAttack(blocks=N_AGENTS, agents=[agent], random_state=seed)
                ensemble.fit(H_train, y_train)
                H_adv, details = ensemble.attack(
                    H_test, y_test, estimator=target_model, return_details=True
                )
                seconds = time.perf_counter() - start
                for member, accuracy in details.accuracy.items():
                    if np.isfinite(accuracy):
                        record(f"suite: {member} (agent {agent})", accuracy, np.nan, agent)
                record(f"{ENSEMBLE} (agent {agent})", model.score(H_adv, y_test), seconds, agent)
                if name.startswith("CoPur"):
                    _, flags = model[0].purify(H_adv, return_details=True)
                    fooled = model.predict(H_adv) != y_test
                    record(f"  fooled rows where agent {agent} is flagged",
                           float(flags.corrupted[fooled, agent].mean()) if fooled.any() else 0.0,
                           np.nan, agent)
    return pd.DataFrame(records)


def summarize(frame):
    order = list(dict.fromkeys(frame["attack"]))
    defenses_order = list(dict.fromkeys(frame["defense"]))
    grouped = frame.groupby(["attack", "defense"], sort=False)["accuracy"]
    mean, std = grouped.mean().unstack(), grouped.std(ddof=1).unstack()
    seeds = grouped.count().unstack()
    cells = mean.round(1).astype(str) + " ± " + std.round(1).astype(str)
    cells = cells.where(seeds.notna(), "-")
    return cells.reindex(index=order, columns=defenses_order)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setting", choices=list(SETTINGS), default="bands")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--defenses", nargs="*", default=None)
    parser.add_argument("--agents", type=int, nargs="+", default=[3])
    parser.add_argument("--rows", type=int, default=None, help="first N test rows only")
    parser.add_argument("--render", action="store_true",
                        help="only rewrite the .md table from the committed .csv")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    csv = RESULTS / f"copur_adaptive_{args.setting}.csv"
    if args.render:
        frame = pd.read_csv(csv)
    else:
        frame = run(args.setting, args.seeds, args.defenses, args.agents, args.rows)
    if csv.exists() and args.rows is None and not args.render:
        old = pd.read_csv(csv)
        keep = ~(old["seed"].isin(frame["seed"]) & old["defense"].isin(frame["defense"]))
        frame = pd.concat([old[keep], frame], ignore_index=True)
    if args.rows is None and not args.render:
        frame.to_csv(csv, index=False)
    table = summarize(frame)
    seeds = sorted(frame["seed"].unique().tolist())
    config = ", ".join(f"{k}={v}" for k, v in SETTINGS[args.setting].items())
    text = (
        f"# CoPur under the adaptive-attack suite ({args.setting}: {config})\n\n"
        f"Accuracy (%) on the test split (25 %), mean ± std over seeds {seeds}; 4 agents, "
        "embeddings of width 8, agent 3 attacked with no bound on its block. Every attack "
        "knows the defense (white-box; the threshold-aware member queries its detection).\n"
        f"Command: `python benchmarks/copur_adaptive.py --setting {args.setting}`\n\n"
        "Standard deviations are sample ones (ddof=1).\n\n"
        "* `old ...` and `flip x10`: the library's attacks before the suite;\n"
        f"* `suite: <member>`: each member of `EnsembleAttack` alone; `{ENSEMBLE}`: per row, "
        "the strongest of them (the number to quote);\n"
        "* `certified (any attack on 1 agent)`: rows predicted right and certified against "
        "any corruption of any one agent (`certify`), whatever the attack; `certified (any "
        "attack on agent 3)`: rows that stay right whatever agent 3 alone sends (exact: the "
        "accuracy of the certified mode under the strongest possible attack on agent 3);\n"
        "* `fooled rows where agent 3 is flagged`: among the rows the ensemble fools, the "
        "share where CoPur's detection reports the attacked agent.\n\n```\n"
        + table.to_string()
        + "\n```\n"
    )
    if args.rows is None:
        (RESULTS / f"copur_adaptive_{args.setting}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()

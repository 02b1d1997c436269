"""Specification of label files (``corruption.labels = "file"``).

A label file gives one training label per image, in the data set's order: CIFAR-N's ``.pt``
archives (dicts of numpy arrays, one label set picked with ``corruption.key``), ``.npy``, ``.npz``
and ``.csv``/``.txt`` with one label per line. Reading never runs code from the file. Where it
enters, a file is checked against the training set: its length, every label a class, and, where
it carries clean labels (``clean_label``), that they equal the data set's labels in order. Each
refusal is one ConfigError line naming ``corruption.file`` or ``corruption.key``.
"""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch

from memtui.errors import ConfigError
from memtui.labelfile import check_labels, load_labels, read_label_file

from helpers import SHARED_DATA

CIFAR_N = SHARED_DATA / "cifar-n"
needs_cifar_n = pytest.mark.skipif(not (CIFAR_N / "CIFAR-10_human.pt").is_file(),
                                   reason=f"CIFAR-N label files not found under {CIFAR_N}")

TRUE = torch.tensor([0, 1, 2, 3, 4, 0, 1, 2])
NOISY = np.array([0, 1, 2, 3, 4, 1, 2, 0])


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("name, write", [
    ("labels.npy", lambda p: np.save(p, NOISY)),
    ("labels.npz", lambda p: np.savez(p, labels=NOISY)),
    ("labels.csv", lambda p: p.write_text("\n".join(map(str, NOISY)) + "\n\n")),
    ("labels.txt", lambda p: p.write_text("\n".join(f" {v} " for v in NOISY))),
    ("labels.pt", lambda p: torch.save(torch.from_numpy(NOISY), p)),
    ("labels.pt", lambda p: torch.save(NOISY.tolist(), p)),
    ("labels.pt", lambda p: torch.save({"noisy": NOISY.astype(np.int32)}, p)),
])
def test_every_format_reads_the_same_labels(tmp_path, name, write):
    path = tmp_path / name
    write(path)
    labels = load_labels(path, None, TRUE, num_classes=5)
    assert labels.dtype == torch.int64
    assert labels.tolist() == NOISY.tolist()


def test_a_file_of_several_label_sets_needs_a_key_and_names_them(tmp_path):
    path = tmp_path / "sets.pt"
    torch.save({"clean_label": TRUE.numpy(), "worse_label": NOISY, "aggre_label": TRUE.numpy()},
               path)
    with pytest.raises(ConfigError) as error:
        read_label_file(path)
    assert one_line(error).startswith("corruption.key:")
    assert "worse_label, aggre_label" in str(error.value)
    with pytest.raises(ConfigError, match=r"corruption.key: .*no label set 'worse'.*did you mean "
                                          r"'worse_label'"):
        read_label_file(path, "worse")
    assert read_label_file(path, "worse_label").labels.tolist() == NOISY.tolist()


def test_a_key_is_refused_for_a_file_of_one_array(tmp_path):
    path = tmp_path / "labels.npy"
    np.save(path, NOISY)
    with pytest.raises(ConfigError, match="^corruption.key: .*one unnamed label array"):
        read_label_file(path, "worse_label")


def test_npz_keys_pick_a_label_set(tmp_path):
    path = tmp_path / "sets.npz"
    np.savez(path, clean_label=TRUE.numpy(), noisy_label=NOISY)
    chosen = read_label_file(path, "noisy_label")
    assert chosen.labels.tolist() == NOISY.tolist()
    assert chosen.clean_key == "clean_label"


def test_wrong_length_is_refused(tmp_path):
    path = tmp_path / "labels.npy"
    np.save(path, NOISY[:-1])
    with pytest.raises(ConfigError) as error:
        load_labels(path, None, TRUE, num_classes=5, dataset="cifar10")
    assert one_line(error).startswith("corruption.file:")
    assert "holds 7 labels; the cifar10 training set has 8 images" in str(error.value)


@pytest.mark.parametrize("bad", [5, -1])
def test_a_label_out_of_range_is_refused(tmp_path, bad):
    path = tmp_path / "labels.csv"
    values = NOISY.copy()
    values[3] = bad
    path.write_text("\n".join(map(str, values)))
    with pytest.raises(ConfigError) as error:
        load_labels(path, None, TRUE, num_classes=5)
    assert one_line(error).startswith("corruption.file:")
    assert f"label {bad} at position 3" in str(error.value) and "0..4" in str(error.value)


def test_clean_labels_in_another_order_are_refused(tmp_path):
    path = tmp_path / "cifar-n-like.pt"
    shuffled = TRUE.numpy()[::-1].copy()
    torch.save({"clean_label": shuffled, "worse_label": shuffled}, path)
    with pytest.raises(ConfigError) as error:
        load_labels(path, "worse_label", TRUE, num_classes=5)
    assert one_line(error).startswith("corruption.file:")
    assert "clean_label differs from" in str(error.value)


def test_coarse_label_sets_are_checked_against_the_coarse_clean_labels(tmp_path):
    path = tmp_path / "c100.pt"
    torch.save({"clean_label": np.zeros(8, dtype=np.int64), "clean_coarse_label": TRUE.tolist(),
                "noisy_coarse_label": NOISY.tolist()}, path)
    assert load_labels(path, "noisy_coarse_label", TRUE, 5).tolist() == NOISY.tolist()


def test_a_text_line_that_is_not_a_label_is_refused(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("label\n1\n2\n")
    with pytest.raises(ConfigError, match=r"^corruption.file: .* line 1 is 'label'; expected one "
                                          r"integer label per line"):
        read_label_file(path)


@pytest.mark.parametrize("array, message", [
    (np.array([0.5, 1.0]), "not whole numbers"),
    (np.zeros((2, 3), dtype=np.int64), "shape (2, 3)"),
])
def test_arrays_that_are_not_labels_are_refused(tmp_path, array, message):
    path = tmp_path / "labels.npy"
    np.save(path, array)
    with pytest.raises(ConfigError) as error:
        read_label_file(path)
    assert message in one_line(error)


def test_an_unknown_suffix_and_a_missing_file_are_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"^corruption.file: .* unknown kind; valid: .pt"):
        read_label_file(tmp_path / "labels.json")
    with pytest.raises(ConfigError, match=r"^corruption.file: .* does not exist"):
        read_label_file(tmp_path / "labels.npy")


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_a_pt_file_that_carries_code_is_refused_without_running_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pt"
    torch.save({"worse_label": _RunsCode()}, path)
    with pytest.raises(ConfigError) as error:
        read_label_file(path)
    assert "system" in one_line(error) and "never runs code" in str(error.value)
    assert not (tmp_path / "pwned").exists()


def test_a_plain_pickle_named_pt_that_carries_code_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps(_RunsCode()))
    with pytest.raises(ConfigError, match="^corruption.file:"):
        read_label_file(path)
    assert not (tmp_path / "pwned").exists()


def test_pickled_object_arrays_are_refused(tmp_path):
    torch.save({"labels": np.array([1, "cat"], dtype=object)}, tmp_path / "objects.pt")
    np.save(tmp_path / "objects.npy", np.array([1, "cat"], dtype=object), allow_pickle=True)
    for name in ("objects.pt", "objects.npy"):
        with pytest.raises(ConfigError, match="^corruption.file:"):
            read_label_file(tmp_path / name)


def test_a_damaged_pt_file_is_one_line(tmp_path):
    path = tmp_path / "broken.pt"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ConfigError) as error:
        read_label_file(path)
    assert "not a readable torch file" in one_line(error)


def test_check_labels_accepts_numpy_true_labels():
    from memtui.labelfile import LabelFile

    chosen = LabelFile(path=__import__("pathlib").Path("x.npy"), key=None, labels=NOISY,
                       clean=None, clean_key=None)
    assert check_labels(chosen, TRUE.numpy(), 5).tolist() == NOISY.tolist()


@needs_cifar_n
@pytest.mark.parametrize("key, rate", [
    ("aggre_label", 0.0903), ("random_label1", 0.1723), ("random_label2", 0.1812),
    ("random_label3", 0.1764), ("worse_label", 0.4021),
])
def test_cifar10n_label_sets_have_their_published_noise_rates(key, rate):
    chosen = read_label_file(CIFAR_N / "CIFAR-10_human.pt", key)
    assert chosen.clean is not None and chosen.clean_key == "clean_label"
    assert len(chosen.labels) == 50_000
    assert abs(float(np.mean(chosen.labels != chosen.clean)) - rate) < 0.0005
    # The file's clean labels are CIFAR-10's: balanced, 5,000 a class.
    assert np.bincount(chosen.clean).tolist() == [5000] * 10
    labels = load_labels(CIFAR_N / "CIFAR-10_human.pt", key, torch.from_numpy(chosen.clean), 10)
    assert labels.tolist() == chosen.labels.tolist()


@needs_cifar_n
def test_cifar100n_fine_and_coarse_label_sets():
    fine = read_label_file(CIFAR_N / "CIFAR-100_human.pt", "noisy_label")
    coarse = read_label_file(CIFAR_N / "CIFAR-100_human.pt", "noisy_coarse_label")
    assert fine.clean_key == "clean_label" and coarse.clean_key == "clean_coarse_label"
    assert abs(float(np.mean(fine.labels != fine.clean)) - 0.402) < 0.001
    assert fine.labels.max() == 99 and coarse.labels.max() == 19
    assert np.bincount(fine.clean).tolist() == [500] * 100


@needs_cifar_n
def test_cifar10n_against_a_training_set_in_another_order_is_refused():
    clean = read_label_file(CIFAR_N / "CIFAR-10_human.pt", "worse_label").clean
    assert clean is not None
    sorted_order = torch.from_numpy(np.sort(clean))  # an ImageFolder tree's order: class by class
    with pytest.raises(ConfigError, match="clean_label differs from the cifar10 training labels"):
        load_labels(CIFAR_N / "CIFAR-10_human.pt", "worse_label", sorted_order, 10, "cifar10")


def test_by_class_positions_put_the_kth_image_of_a_class_at_its_offset_plus_k():
    from memtui.labelfile import by_class_positions

    clean = np.array([2, 0, 2, 1, 0, 2])
    # a tree loaded class by class: 0,0 | 1 | 2,2,2 -> offsets 0, 2, 3
    assert by_class_positions(clean).tolist() == [3, 0, 4, 2, 1, 5]
    tree_labels = torch.tensor(sorted(clean.tolist()))
    assert tree_labels[by_class_positions(clean)].tolist() == clean.tolist()


def test_a_tree_read_class_by_class_is_put_into_the_files_order_by_its_clean_labels():
    from memtui.labelfile import LabelFile, labels_for_training_set

    clean = np.array([2, 0, 2, 1, 0, 2])
    noisy = np.array([1, 0, 2, 1, 2, 2])
    chosen = LabelFile(__import__("pathlib").Path("n.pt"), "worse_label", noisy, clean,
                       "clean_label")
    tree = torch.tensor([0, 0, 1, 2, 2, 2])
    order, labels = labels_for_training_set(chosen, tree, 3, by_class=True)
    assert order is not None and tree[order].tolist() == clean.tolist()
    assert labels.tolist() == noisy.tolist()
    # not a tree, or a set in the file's order already: used as it is
    assert labels_for_training_set(chosen, torch.from_numpy(clean), 3, by_class=True)[0] is None
    with pytest.raises(ConfigError, match="clean_label differs"):
        labels_for_training_set(chosen, tree, 3, by_class=False)
    # other class counts than the tree's: no reordering, the order check refuses
    with pytest.raises(ConfigError, match="clean_label differs"):
        labels_for_training_set(chosen, torch.tensor([0, 1, 1, 2, 2, 2]), 3, by_class=True)

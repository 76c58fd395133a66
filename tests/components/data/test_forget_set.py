"""What a never-seen-the-class reference may draw on: kept training images of kept classes, nothing else."""

from components.data.forget_set import retained_training
from components.data.manifest import Sample


def sample(sample_id: str, label: int, split: str = "train") -> Sample:
    return Sample(sample_id, "subj", label, str(label), split, f"{split}/{sample_id}.png", "0" * 64)


SAMPLES = [
    sample("kept-0", 0),
    sample("kept-1", 1),
    sample("asked-0", 0),
    sample("class-9", 9),
    sample("class-9-test", 9, "test"),
    sample("test-0", 0, "test"),
]


def test_the_reference_bank_holds_kept_training_images_of_kept_classes_only():
    removed = {"asked-0", "class-9", "class-9-test"}  # a sample request and a label request for class 9
    assert retained_training(SAMPLES, removed, forgotten_labels={9}) == ["kept-0", "kept-1"]


def test_a_forgotten_class_stays_out_of_the_bank_even_where_the_batch_does_not_remove_an_image_of_it():
    # an image of the class held by another open request is not in this batch's `removed`: still not a reference
    assert retained_training(SAMPLES, {"class-9-test"}, forgotten_labels={9}) == ["asked-0", "kept-0", "kept-1"]

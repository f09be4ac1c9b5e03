"""The packaged tier of detection: real pretrained models that registry packages ship, on the CPU.

Between the official weights (YOLO, SAM2) and the classical methods. NanoDet (COCO-80) searches
every sampled frame, so things that never move are instances too; the classical motion analysis
still runs and finds moving things no detector knows, and a recognised box absorbs the motion
fragments inside it (its mask then comes from what moved). Each track is named:

1. the detector's class, when its score over the track's sightings clears that class's threshold;
2. else an ImageNet label of the instance's largest crop (EfficientNet-Lite0), mapped to a plain
   noun, when the classifier is sure enough (animals the detector could only place in the animal
   family are named this way: the rabbit of Big Buck Bunny is a bird, a sheep and a cow to NanoDet);
3. else "object", with the detector's and the classifier's guesses and their confidences kept in the
   evidence as advice for a language model.

Thresholds were measured on the four real clips (benchmarks/real_clips.py) and the 64 generated
clips (benchmarks/accuracy.py), not guessed: see docs/backends.md (the packaged pretrained models).

The package: :mod:`.labels` (the models, the thresholds and the label-to-word tables),
:mod:`.recogniser` (the recogniser), :mod:`.candidates` (strays, a montage's order, what else is
in view).
"""

from tools.recognise.candidates import STRAY, also_seen, drop_strays, montage_order
from tools.recognise.labels import (ANIMALS, ATTACH, BINDING, CLASS_SCORE, CLASSIFIER, CLASSIFIER_SCORE,
                                    DEFAULT_CLASS_SCORE, DETECTOR, FACE, MIN_SCORE, POSE, RIDE_CROP, STILL_SCORE,
                                    Naming, caption_word, imagenet_noun, two_wheeler)
from tools.recognise.recogniser import PackagedRecogniser, packaged_recogniser

__all__ = ["ANIMALS", "ATTACH", "BINDING", "CLASSIFIER", "CLASSIFIER_SCORE", "CLASS_SCORE", "DEFAULT_CLASS_SCORE",
           "DETECTOR", "FACE", "MIN_SCORE", "POSE", "RIDE_CROP", "STILL_SCORE", "STRAY", "Naming",
           "PackagedRecogniser", "also_seen", "caption_word", "drop_strays", "imagenet_noun", "montage_order",
           "packaged_recogniser", "two_wheeler"]

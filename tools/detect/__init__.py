"""``detect_instances``: find and track the main instances across the sampled frames.

Classical backend (no weights), one module per step:

1. ``foreground``: camera-compensated foreground against a per-pixel median of neighbouring motion
   frames; its connected components are the candidate instances;
2. ``people_finder``: OpenCV's HOG person detector (on tall candidates and on a few whole frames) and
   its face and upper-body cascades recognise people, including people who do not move (``attach``
   merges their boxes with the motion candidates);
3. ``tracking``: candidates are linked across the sampled frames by position, predicted motion and
   colour;
4. ``selection``: the N best tracks by persistence and size over all frames become the instances;
5. ``repair``: sightings that jump away from a track's motion are cut, and samples where it was not
   seen are searched for its appearance;
6. ``instances``: each chosen track becomes ``InstanceTrack`` evidence.

``classical`` runs these steps (with the packaged recogniser in place of the cascades in that tier),
``tool`` chooses the tier, and ``thresholds`` holds every tuned number in one settings model.

In a clip that cuts between shots (``tools/shots/``), backgrounds, tracks, merges and gap filling
all stay within one shot, and a track needs no more sightings than its shot has samples.
"""

from .classical import detect_classical
from .tool import DetectArgs, DetectInstances, register_tools

__all__ = ["DetectArgs", "DetectInstances", "detect_classical", "register_tools"]

"""``python -m agent conditions``: what the user's conditions determine, before any model runs.

Runs the condition readers plugins register (``register_condition_readers``; built in:
``camera_path``, ``pose`` (JSON or a video), ``image`` (one per instance, repeatable), ``style``,
``depth`` and ``reference_video``) on the files given and prints, as JSON, each reader's evidence and
the caption fields it determines; on one line on stderr, the caption fields that still need a
model. A file a reader cannot read is one line on stderr and exit status 2.

It also extends ``enhance`` through the same hooks any plugin can use: the condition flags
(``add_command_options``), the files they name (``condition_inputs``), the conditions worded for
the model's prompts (``describe_conditions``) and the checks that hold the caption to them
(``register_condition_checks``).

The package: :mod:`.command` (the command and the condition flags), :mod:`.facts` (what the
conditions determine, and their wording for prompts), :mod:`.checks` (the validation checks).
"""

from plugins.conditions.checks import (CHECKS, camera_path_matches, depth_matches, images_match, pose_actions_match,
                                       reference_video_matches, register_condition_checks, register_validation_checks,
                                       style_matches)
from plugins.conditions.command import (add_command_options, add_condition_flags, condition_files, condition_inputs,
                                        register_commands)
from plugins.conditions.facts import (DEFAULT_DEPTH_CONVENTION, DEPTH_CONVENTIONS, FLAGS, conditions_text, describe_conditions,
                                      determined, layout_text, place_images, still_needed)

__all__ = ["CHECKS", "DEFAULT_DEPTH_CONVENTION", "DEPTH_CONVENTIONS", "FLAGS", "add_command_options",
           "add_condition_flags", "camera_path_matches", "condition_files", "condition_inputs", "conditions_text",
           "depth_matches", "describe_conditions", "determined", "images_match", "layout_text", "place_images",
           "pose_actions_match", "reference_video_matches", "register_commands", "register_condition_checks",
           "register_validation_checks", "still_needed", "style_matches"]

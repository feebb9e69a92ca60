"""The one kind of error a person fixes by changing what they asked for (a config key, a path, a URL).

The command line prints such an error as one line naming the problem and exits with code 2; anything else
is a bug and keeps its traceback. This module imports nothing, so the command line can catch these errors
without loading torch.
"""


class UserError(RuntimeError):
    """Bad input or an unusable environment, described in one line."""


class DatasetError(UserError):
    """A dataset cannot be built or read from what was given; the message names the path or class."""


class LossNetworkError(UserError):
    """AlexNet weights were asked for but cannot be read."""

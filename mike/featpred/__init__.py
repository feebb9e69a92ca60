"""Feature prediction loss (Pihlgren et al., 2020): coders, loss network, the six procedures."""

"""Custom scorers imported by path in tests (`tests.custom_scorers:shouts`)."""

from workbench.scorers import Sample, scorer


def shouts(sample: Sample) -> bool:
    return sample.output.isupper()


@scorer
def max_exclamations(limit: int = 1):
    def score(sample: Sample) -> bool:
        return sample.output.count("!") <= limit

    return score

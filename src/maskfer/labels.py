"""The study's seven expression classes, in its order; a label's index is its position here.

Its own module, free of pandas and every stage, so that prediction can name the classes
without loading the dataset readers.
"""

EMOTIONS = ("afraid", "angry", "disgusted", "happy", "neutral", "sad", "surprised")

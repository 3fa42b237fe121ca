"""On top of the stages: the shipped model. Its recipe (`maskfer train-default`), the aligned and masked training
crops it learns from, and the export to the files that `maskfer.weights.format` defines."""

"""Stage 6: the shipped model. Its recipe (`maskfer train-default`), the aligned and masked training
crops it learns from, and the export to the files that `maskfer.weights.format` defines."""

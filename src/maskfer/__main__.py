from maskfer.cli import app

app(prog_name="maskfer")

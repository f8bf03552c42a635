from pipeline.cli.app import app

app()

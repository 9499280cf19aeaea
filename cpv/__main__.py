from cpv.cli.main import main

main()

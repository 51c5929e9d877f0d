from shopctl.cli.app import main

main()

from animeinterp_cli.cli import main

main()

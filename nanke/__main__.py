from nanke.cli import main

main()

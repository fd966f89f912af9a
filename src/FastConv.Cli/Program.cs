using FastConv.Cli;

return Cli.Run(args);

using System;
using System.IO;
using System.Net.Sockets;
using System.Text;
using BypassNat.Ssh;
using Renci.SshNet;
using Renci.SshNet.Common;

namespace BypassNat.SshNet
{
    /// <summary>An open SSH.NET client that runs scripts on the router's <c>sh -s</c>.</summary>
    internal sealed class SshNetConnection : IRouterConnection
    {
        private readonly SshClient _client;
        private readonly SshSettings _settings;

        public SshNetConnection(SshClient client, SshSettings settings, string login)
        {
            _client = client;
            _settings = settings;
            Login = login;
        }

        public string Login { get; }

        public bool IsConnected => _client.IsConnected;

        public CommandResult Run(string script)
        {
            using (SshCommand command = _client.CreateCommand("sh -s"))
            {
                command.CommandTimeout = _settings.CommandTimeout;
                try
                {
                    IAsyncResult pending = command.BeginExecute();
                    using (Stream input = command.CreateInputStream())
                    {
                        byte[] bytes = new UTF8Encoding(false).GetBytes(script.Replace("\r\n", "\n"));
                        input.Write(bytes, 0, bytes.Length);
                    }

                    command.EndExecute(pending);
                }
                catch (Exception e) when (e is SshException || e is IOException || e is SocketException || e is ObjectDisposedException)
                {
                    throw new BypassNatException("BypassNat.ConnectionLost", FailureKind.ConnectionError,
                        $"The SSH connection to {_settings.Endpoint} failed while running a command: {e.Message}", _settings.Endpoint, e);
                }

                // No exit status means the channel closed before the command ended: the script may have
                // stopped anywhere, which is not the same as a script that failed.
                if (command.ExitStatus == null)
                    throw new BypassNatException("BypassNat.ConnectionLost", FailureKind.ConnectionError,
                        $"The SSH connection to {_settings.Endpoint} closed before a command finished.", _settings.Endpoint);
                return new CommandResult(command.ExitStatus.Value, command.Result, command.Error);
            }
        }

        public void Dispose()
        {
            if (_client.IsConnected) _client.Disconnect();
            _client.Dispose();
        }
    }
}

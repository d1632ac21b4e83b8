using System;
using System.IO;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
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

        // Set by Abort (another thread: Ctrl-C) or a timed-out command; the waiting Run wakes on it.
        private readonly ManualResetEvent _abandoned = new ManualResetEvent(false);
        private readonly object _gate = new object();
        private bool _closed;
        private volatile bool _stopped;

        public SshNetConnection(SshClient client, SshSettings settings, string login)
        {
            _client = client;
            _settings = settings;
            Login = login;
        }

        public string Login { get; }

        public bool IsConnected
        {
            get
            {
                lock (_gate) return !_closed && _client.IsConnected;
            }
        }

        public CommandResult Run(string script)
        {
            if (_stopped) throw Stopped();
            SshCommand command;
            lock (_gate)
            {
                if (_closed || !_client.IsConnected) throw NotSent("was closed", null);
                command = _client.CreateCommand("sh -s");
            }

            // Until the router has started the command's shell, nothing can have run: a failure here
            // lets a session reconnect and run the command again (BypassSession).
            IAsyncResult pending;
            try
            {
                pending = command.BeginExecute();
            }
            catch (Exception e) when (e is SshException || e is IOException || e is SocketException || e is ObjectDisposedException || e is InvalidOperationException)
            {
                command.Dispose();
                if (_stopped) throw Stopped();
                throw NotSent("failed before the router received a command: " + e.Message, e);
            }

            try
            {
                using (Stream input = command.CreateInputStream())
                {
                    byte[] bytes = new UTF8Encoding(false).GetBytes(script.Replace("\r\n", "\n"));
                    input.Write(bytes, 0, bytes.Length);
                }

                // EndExecute cannot be interrupted; waiting here can, by Abort or the command timeout.
                int woke = WaitHandle.WaitAny(new[] { pending.AsyncWaitHandle, _abandoned }, _settings.CommandTimeout);
                if (woke == 1 || _stopped) throw Stopped();
                if (woke == WaitHandle.WaitTimeout)
                {
                    // The script may still be running on the router: the connection is closed under it,
                    // as a cut link would, and is not used again.
                    CloseInBackground();
                    throw new BypassNatException("BypassNat.CommandTimeout", FailureKind.ConnectionError,
                        $"A command on {_settings.Endpoint} did not finish within {_settings.CommandTimeout.TotalSeconds:0} s (-CommandTimeout), so its SSH connection was closed.",
                        _settings.Endpoint);
                }

                command.EndExecute(pending);
            }
            catch (Exception e) when (e is SshException || e is IOException || e is SocketException || e is ObjectDisposedException || e is InvalidOperationException)
            {
                if (_stopped) throw Stopped();
                throw Lost("failed while running a command: " + e.Message, e);
            }

            // No exit status means the channel closed before the command ended: the script may have
            // stopped anywhere, which is not the same as a script that failed.
            using (command)
            {
                if (command.ExitStatus == null)
                    throw Lost("closed before a command finished", null);
                return new CommandResult(command.ExitStatus.Value, command.Result, command.Error);
            }
        }

        public void Abort()
        {
            _stopped = true;
            _abandoned.Set();
            CloseInBackground();
        }

        private BypassNatException Stopped() =>
            new BypassNatException("BypassNat.Stopped", FailureKind.InvalidOperation,
                $"Stopped (Ctrl-C) while a command ran on {_settings.Endpoint}; its SSH connection was closed.", _settings.Endpoint);

        private CommandNotSentException NotSent(string what, Exception inner) =>
            new CommandNotSentException($"The SSH connection to {_settings.Endpoint} {what}.", _settings.Endpoint, inner);

        private BypassNatException Lost(string what, Exception inner) =>
            new BypassNatException("BypassNat.ConnectionLost", FailureKind.ConnectionError,
                $"The SSH connection to {_settings.Endpoint} {what}.", _settings.Endpoint, inner);

        // Disconnecting waits on the network (a dead link: seconds), so it never holds up the caller.
        private void CloseInBackground()
        {
            _abandoned.Set();
            Task.Run(() => Dispose());
        }

        public void Dispose()
        {
            lock (_gate)
            {
                if (_closed) return;
                _closed = true;
            }

            try
            {
                if (_client.IsConnected) _client.Disconnect();
            }
            catch (Exception e) when (e is SshException || e is IOException || e is SocketException || e is ObjectDisposedException || e is InvalidOperationException)
            {
                // Already gone: nothing left to close.
            }

            _client.Dispose();
        }
    }
}

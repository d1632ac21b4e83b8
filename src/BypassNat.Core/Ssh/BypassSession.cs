using System;
using System.Threading;

namespace BypassNat.Ssh
{
    public enum BypassSessionState
    {
        /// <summary>Connected, or closed by the network and reopened on next use.</summary>
        Opened,
        /// <summary>The connection dropped and could not be reopened; the last error says why. The next use tries again.</summary>
        Broken,
        /// <summary>Closed by Remove-BypassSession; no longer usable.</summary>
        Closed,
    }

    /// <summary>
    /// An SSH connection to a router that a script keeps and reuses (New-BypassSession), so reading,
    /// testing and applying cost one login. A connection that died is reopened on next use with the
    /// same settings and the same strict host-key check, and must present the key it was first opened
    /// with.
    /// </summary>
    public sealed class BypassSession : IDisposable
    {
        private static int _lastId;
        private readonly object _gate = new object();
        private readonly SshSettings _settings;
        private RouterSession _connection;

        private BypassSession(SshSettings settings, RouterSession connection)
        {
            Id = Interlocked.Increment(ref _lastId);
            _settings = settings;
            _connection = connection;
            HostKeyFingerprint = connection.HostKeyFingerprint;
            Login = connection.Login;
            Opened = DateTime.Now;
            HostKeyAddedTo = connection.HostKeyAdded ? connection.KnownHostsFile : null;
        }

        public int Id { get; }
        public string ComputerName => _settings.ComputerName;
        public int Port => _settings.Port;
        public string UserName => _settings.UserName;
        public string HostKeyFingerprint { get; }
        public BypassSessionState State { get; private set; } = BypassSessionState.Opened;
        public DateTime Opened { get; }

        /// <summary>How many times the session was reopened after its connection dropped.</summary>
        public int Reopened { get; private set; }

        /// <summary>Why the session is Broken, when it is.</summary>
        public string LastError { get; private set; }

        /// <summary>The known_hosts file -AcceptNewHostKey added the router's key to when the session opened; null otherwise.</summary>
        public string HostKeyAddedTo { get; }

        /// <summary>Which key (or password) the router accepted.</summary>
        public string Login { get; }

        public bool UseSudo => _settings.UseSudo;

        public static BypassSession Open(SshSettings settings, CancellationToken cancel = default(CancellationToken))
        {
            RouterSession connection = RouterSession.Open(settings, cancel);
            SshSettings kept = settings.Copy();
            kept.PinnedFingerprint = connection.HostKeyFingerprint;
            return new BypassSession(kept, connection);
        }

        /// <summary>
        /// The live connection; reopens a dropped one first (and says so through <paramref name="note"/>).
        /// SSH.NET does not always notice a dead peer by itself, so a cheap command checks it.
        /// </summary>
        public RouterSession Connection(Action<string> note)
        {
            lock (_gate)
            {
                if (State == BypassSessionState.Closed)
                    throw new BypassNatException("BypassNat.SessionClosed", FailureKind.InvalidOperation,
                        $"Session {Id} to {_settings.Endpoint} was closed with Remove-BypassSession; open a new one with New-BypassSession.", ComputerName);
                string why = Alive();
                if (why == null) return _connection;

                _connection?.Dispose();
                _connection = null;
                try
                {
                    _connection = RouterSession.Open(_settings);
                }
                catch (BypassNatException e)
                {
                    State = BypassSessionState.Broken;
                    LastError = e.Message;
                    throw new BypassNatException(e.ErrorId, e.Kind,
                        $"Session {Id} to {_settings.Endpoint} lost its connection ({why}) and could not be reopened: {e.Message}", ComputerName, e);
                }

                State = BypassSessionState.Opened;
                LastError = null;
                Reopened++;
                note?.Invoke($"Session {Id} to {_settings.Endpoint} had lost its connection ({why}); reopened it (host key {_connection.HostKeyFingerprint}, as before).");
                return _connection;
            }
        }

        private string Alive()
        {
            if (_connection == null) return LastError ?? "not connected";
            if (!_connection.IsConnected) return "the router closed it";
            try
            {
                return _connection.Run("exit 0").Succeeded ? null : "a test command failed";
            }
            catch (BypassNatException e)
            {
                return e.Message;
            }
        }

        public void Dispose()
        {
            lock (_gate)
            {
                State = BypassSessionState.Closed;
                _connection?.Dispose();
                _connection = null;
            }
        }
    }
}

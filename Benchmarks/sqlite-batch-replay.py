#!/usr/bin/env python3
"""Replays the SQLite statements of the disclosure pipeline's batches against a copy of a seeded database, timed per
statement, to see SQLite's own share of a disclosure apart from Swift's (numbers in BENCHMARKS.md).

    Benchmarks/sqlite-batch-replay.py SEEDED.sqlite VARIANT

SEEDED.sqlite: a database seeded by `proffer bench-seed` (e.g. SEED_CACHE/10000/data/proffer.sqlite after
`SEED_CACHE=DIR Benchmarks/run-load.sh`, or its `---price-minor-units_5` twin for priced). It is copied, not changed.
VARIANT: words joined by '-': `priced` (a transfer, three legs and the kept balances per disclosure), `noheads`
(no audit-heads reads or writes; from schema 12 on SQLite heads are derived from the entries, never written; from
schema 13 entries are keyed by person number), `noidx` (without the ledger entries' by-account index; a database at schema 11
or later indexes only legs of accounts other than earnings, and a priced replay then also links each audit entry
to its charge, as the server does), `single` (one prepared
single-row insert executed per entry instead of one multi-row insert), `nosecure` (without secure_delete),
`walletidx` (the ledger entries' by-account index on wallet legs only), `frames` (no checkpoints; the WAL is truncated
before the last quarter of the batches, whose frames are then counted by the table or index each page belongs to:
the pages a disclosure dirties, which its commit writes and a checkpoint copies).
N batches (300) of B disclosures (64) of random grants; a PASSIVE checkpoint every CK batches (50), as the server's
background pass does; prints microseconds per disclosure, in all and per statement. `B=20 N=1500 CK=500` is closer
to the server at ~20,000 disclosures/s (batches of ~20, a pass every 500 ms).
"""
import sqlite3, random, time, shutil, sys, os, hashlib, tempfile
seeded, variant = sys.argv[1], sys.argv[2]
work = tempfile.mkdtemp(prefix='proffer-replay-')
os.chdir(work)
shutil.copy(seeded, 'db.sqlite')
db = sqlite3.connect('db.sqlite', isolation_level=None)
db.execute('pragma journal_mode=WAL'); db.execute('pragma synchronous=NORMAL'); db.execute('pragma wal_autocheckpoint=0')
db.execute('pragma cache_size=-8192'); db.execute('pragma temp_store=MEMORY')
if 'nosecure' not in variant: db.execute('pragma secure_delete=ON')
if 'noidx' in variant: db.execute('drop index ledger_entries_by_account')
if 'walletidx' in variant:
    db.execute('drop index ledger_entries_by_account')
    db.execute("create index ledger_entries_by_wallet on ledger_entries (account_id) where substr(account_id, 1, 7) = 'wallet:'")
grants = [r for r in db.execute('select id, person_id, organisation_id from grants')]
# Schema 12 and later keep no head rows on SQLite: a chain's head is its newest entry (the server's auditHeads).
stored_heads = db.execute("select count(*) from sqlite_master where name = 'audit_heads'").fetchone()[0] == 1
heads = {p: (s, h) for p, s, h in db.execute('select person_id, seq, hash from audit_heads' if stored_heads
                                              else 'select person_id, max(seq), hash from audit_entries group by person_id')}
# Schema 13 and later key the entries by person number: each row names it, and heads are found through it.
numbered = any(c[1] == 'person_number' for c in db.execute('pragma table_info(audit_entries)'))
numbers = {p: n for p, n in db.execute('select id, number from people')} if numbered else {}
key = 'number' if numbered else 'id'
derive = (f'select p.id, a.seq, a.hash from people p join audit_entries a on a.person_{key} = p.{key} and a.seq = '
          f'(select m.seq from audit_entries m where m.person_{key} = p.{key} order by m.seq desc limit 1) where p.id in ({{}})')
linked = 'priced' in variant and any(c[1] == 'transfer_id' for c in db.execute('pragma table_info(audit_entries)'))
B = int(os.environ.get('B', '64')); N = int(os.environ.get('N', '300')); CK = int(os.environ.get('CK', '50'))
random.seed(1)
ph={k:0 for k in ['trf','acc','ent','grants','heads','py','insert','upsert','commit']}
T = time.perf_counter
t0 = T()
for b in range(N):
    batch = random.sample(grants, B)
    a=T(); db.execute('BEGIN IMMEDIATE')
    ids = [g[0] for g in batch]
    db.execute(f'select id, expires_at, revoked_at, paid_until, suspended_at from grants where id in ({",".join("?"*B)}) order by id', ids).fetchall()
    ph['grants']+=T()-a; a=T()
    persons = sorted(set(g[1] for g in batch))
    if 'noheads' not in variant and stored_heads:
        db.execute(f'select person_id, seq, hash from audit_heads where person_id in ({",".join("?"*len(persons))}) order by person_id', persons).fetchall()
    elif 'noheads' not in variant:
        db.execute(derive.format(",".join("?"*len(persons))), persons).fetchall()
    ph['heads']+=T()-a; a=T()
    rows = []; newheads = {}
    charge = lambda i: 'trf_%012x-%s' % (int(time.time()*1000)*4096 + i + b*64, 'aaaa-bbbb-cccc-dddddddd')
    for i, g in enumerate(batch):
        seq, h = heads[g[1]]
        seq += 1; nh = hashlib.sha256((h+str(seq)).encode()).hexdigest()
        heads[g[1]] = (seq, nh); newheads[g[1]] = (seq, nh)
        rows.append(((numbers[g[1]],) if numbered else ()) + (g[1], seq, 'disclosure', 'organisation:'+g[2], g[2], 'req_x'*8, g[0], '["a","b","c","d"]', None, 1764000000000+b, h, nh) + ((charge(i),) if linked else ()))
    ph['py']+=T()-a; a=T()
    columns = ('person_number, ' if numbered else '') + 'person_id, seq, kind, actor, organisation_id, request_id, grant_id, keys, note, at, previous_hash, hash' + (', transfer_id' if linked else '')
    marks = '(' + ','.join('?' * len(rows[0])) + ')'
    if 'single' in variant:
        db.executemany(f'insert into audit_entries ({columns}) values {marks}', rows)
    else:
        db.execute(f'insert into audit_entries ({columns}) values ' + ','.join([marks]*B), [x for r in rows for x in r])
    ph['insert']+=T()-a; a=T()
    if 'noheads' not in variant and stored_heads:
        hv = list(newheads.items())
        db.execute('insert into audit_heads (person_id, seq, hash) values ' + ','.join(['(?,?,?)']*len(hv)) + ' on conflict (person_id) do update set seq = excluded.seq, hash = excluded.hash', [x for p,(s,h) in hv for x in (p,s,h)])
    ph['upsert']+=T()-a; a=T()
    if 'priced' in variant:
        a=T()
        wal = sorted(set('wallet:'+g[2]+':EUR' for g in batch))
        db.execute(f'select id, balance from ledger_accounts where id in ({",".join("?"*len(wal))}) order by id', wal).fetchall()
        tr = []; en = []
        for i,g in enumerate(batch):
            tid = charge(i); tr.append((tid,'disclosure-charge','EUR',1764000000000,g[0],g[2],g[1],5))
            en += [(tid,'wallet:'+g[2]+':EUR',-5),(tid,'earnings:'+g[1]+':EUR',4),(tid,'fees:EUR',1)]
        db.execute('insert into ledger_transfers (id, kind, currency, at, grant_id, organisation_id, person_id, audit_seq) values ' + ','.join(['(?,?,?,?,?,?,?,?)']*len(tr)), [x for r in tr for x in r])
        ph['trf']+=T()-a; a=T()
        db.execute('insert into ledger_accounts (id, kind, currency, balance, minimum) values ' + ','.join(['(?,?,?,?,?)']*len(wal)) + ' on conflict (id) do update set balance = ledger_accounts.balance + excluded.balance', [x for w in wal for x in (w,'organisation-wallet','EUR',-5,0)])
        ph['acc']+=T()-a; a=T()
        db.execute('insert into ledger_entries (transfer_id, account_id, amount) values ' + ','.join(['(?,?,?)']*len(en)), [x for r in en for x in r])
        ph['ent']+=T()-a; a=T()
    db.execute('COMMIT')
    ph['commit']+=T()-a
    if 'frames' in variant:
        if b == N - N // 4 - 1: db.execute('pragma wal_checkpoint(TRUNCATE)')
        continue
    if b % CK == CK - 1:
        a=T(); db.execute('pragma wal_checkpoint(PASSIVE)'); ph['ckpt']=ph.get('ckpt',0)+T()-a
t = time.perf_counter() - t0
print(variant, f'{t/N/B*1e6:.1f} us per disclosure (incl. Python), WAL at its largest {os.path.getsize("db.sqlite-wal")//4120} frames')

print({k: round(v/N/B*1e6,1) for k,v in ph.items()})
if 'frames' in variant:
    import collections, struct
    owner = {page: name for name, page in db.execute('select name, pageno from dbstat')}
    wal = open('db.sqlite-wal', 'rb').read()
    size = struct.unpack('>I', wal[8:12])[0]
    frames = collections.Counter(owner.get(struct.unpack('>I', wal[at:at + 4])[0], '?') for at in range(32, len(wal) - size - 23, 24 + size))
    counted = N // 4 * B
    print(f'WAL frames per disclosure over the last {N // 4} batches: {sum(frames.values()) / counted:.2f}')
    for name, n in frames.most_common(): print(f'  {name:36} {n / counted:.2f}')
shutil.rmtree(work)

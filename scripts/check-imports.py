#!/usr/bin/env python3
"""Fails when modules of src/ import each other in a cycle (CI runs it: issue #22's layering).

Edges are the `crate::a::b`, `super::x` and child-module (`ops::x` in engine/mod.rs) paths each
module names outside comments; an edge between two modules counts between their topmost
distinct ancestors (so `engine::ops` -> `engine::linear` is a sibling edge, and `load` ->
`model` a top-level one). Prints each cycle with its edges."""
import re,os,sys,collections
mods={}
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'src')
for dp,dn,fn in os.walk(root):
    for f in fn:
        p=os.path.join(dp,f); rel=os.path.relpath(p, root)[:-3]; parts=rel.split('/')
        if not f.endswith('.rs') or parts[0]=='bin': continue
        if parts[-1] in ('mod','lib'): parts=parts[:-1]
        mods['::'.join(parts)]=re.sub(r'//.*','',open(p).read())
mods.pop('',None)
def resolve(path):
    parts=path.split('::')
    for k in range(len(parts),0,-1):
        c='::'.join(parts[:k])
        if c in mods: return c
edges=collections.defaultdict(set)
for m,src in mods.items():
    parent='::'.join(m.split('::')[:-1])
    refs=[r for r in re.findall(r'crate::([a-z_][a-z_0-9]*(?:::[a-z_][a-z_0-9]*)*)',src)]
    refs+=[(parent+'::' if parent else '')+r for r in re.findall(r'(?<![:\w])super::([a-z_][a-z_0-9]*(?:::[a-z_][a-z_0-9]*)*)',src)]
    refs+=[parent for _ in re.findall(r'(?<![:\w])super::[A-Z]',src)] if parent else []
    # child module references: `child::` where child is a submodule of m
    for c in re.findall(r'(?<![:\w])([a-z_][a-z_0-9]*)::',src):
        if (m+'::'+c) in mods: refs.append(m+'::'+c)
    for r in refs:
        b=resolve(r)
        if b and b!=m and not b.startswith(m+'::') and not m.startswith(b+'::'):
            edges[m].add(b)
# collapse to compare siblings: an edge a->b between modules implies edge between their ancestors below the common prefix
def sib(a,b):
    pa,pb=a.split('::'),b.split('::'); i=0
    while i<min(len(pa),len(pb)) and pa[i]==pb[i]: i+=1
    return '::'.join(pa[:i+1]),'::'.join(pb[:i+1])
g=collections.defaultdict(set)
for a,bs in edges.items():
    for b in bs:
        x,y=sib(a,b)
        if x!=y: g[x].add(y)
sys.setrecursionlimit(10000)
idx={};low={};st=[];on=set();res=[];c=[0]
def sc(v):
    idx[v]=low[v]=c[0];c[0]+=1;st.append(v);on.add(v)
    for w in g.get(v,()):
        if w not in idx: sc(w);low[v]=min(low[v],low[w])
        elif w in on: low[v]=min(low[v],idx[w])
    if low[v]==idx[v]:
        comp=[]
        while True:
            w=st.pop();on.discard(w);comp.append(w)
            if w==v:break
        if len(comp)>1: res.append(comp)
for v in list(g):
    if v not in idx: sc(v)
for comp in res:
    print('CYCLE:',sorted(comp))
    for a in comp: print('  ',a,'->',sorted(b for b in g[a] if b in comp))
if not res:
    print('no import cycles among', len(mods), 'modules of src/')
else:
    sys.exit(1)
